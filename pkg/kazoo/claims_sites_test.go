package kazoo_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/couch"
	"github.com/portreqd/portreqd/pkg/kazoo"
	"github.com/portreqd/portreqd/pkg/porting"
	replication "github.com/portreqd/portreqd/pkg/sites"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

// link is the network between one site's server and everyone else: a TCP
// proxy that the other sites' replicators and portreqds reach the server
// through, which the test can cut (every connection refused and the open
// ones closed) and mend. The site's own portreqd talks to its server
// directly, as it would in its own data centre.
type link struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]bool
}

func newLink(t *testing.T, target string) *link {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := &link{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go l.serve()
	t.Cleanup(func() { _ = ln.Close(); l.cut() })
	return l
}

func (l *link) serve() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		if l.down {
			l.mu.Unlock()
			_ = c.Close()
			continue
		}
		l.conns[c] = true
		l.mu.Unlock()
		go l.pipe(c)
	}
}

func (l *link) pipe(c net.Conn) {
	defer func() {
		l.mu.Lock()
		delete(l.conns, c)
		l.mu.Unlock()
		_ = c.Close()
	}()
	up, err := net.Dial("tcp", l.target)
	if err != nil {
		return
	}
	l.mu.Lock()
	l.conns[up] = true
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.conns, up)
		l.mu.Unlock()
		_ = up.Close()
	}()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
}

// cut refuses every new connection and closes the open ones.
func (l *link) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = true
	for c := range l.conns {
		_ = c.Close()
	}
}

func (l *link) mend() {
	l.mu.Lock()
	l.down = false
	l.mu.Unlock()
}

// linkedSites opens portreqd on every server of COUCHDB_SITE_URLS (up to
// three), each behind a link, with a keeper replicating between them
// through the links (not started) and each service told its site's name
// and its peers as portreqd run does.
func linkedSites(t *testing.T, prefix string) ([]*siteUnderTest, []*link, *replication.Keeper) {
	t.Helper()
	ctx := context.Background()
	urls := couchdbtest.SiteURLs(t)
	if len(urls) > 3 {
		urls = urls[:3]
	}
	var out []*siteUnderTest
	var links []*link
	k := &replication.Keeper{Prefix: prefix}
	open := func(ctx context.Context, u string) (engine.Engine, error) {
		return couch.Open(ctx, couch.Options{URL: u, Logger: zap.NewNop()})
	}
	for _, u := range urls {
		eng, st := openSite(t, u, prefix)
		site, err := st.SiteID(ctx, porting.RandomID)
		if err != nil {
			t.Fatal(err)
		}
		pu, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		l := newLink(t, pu.Host)
		pu.Host = l.ln.Addr().String()
		svc := porting.NewService(porting.Config{Store: st, Site: site, Peers: st.Peers(open)})
		out = append(out, &siteUnderTest{url: u, eng: eng, store: st, svc: svc})
		links = append(links, l)
		k.Sites = append(k.Sites, replication.Site{URL: pu.String(), Engine: eng})
	}
	dropSitesAtEnd(t, out, k, prefix)
	return out, links, k
}

// TestNumberClaimedAtSeveralSites cuts every site off from the others
// (its link refuses connections; replication and peer reads fail as in a
// real partition) and submits one number at each site, for requests of
// two different accounts, a second apart. A completion during the
// partition is refused: not every site can confirm the claim. Once the
// links are mended, every site keeps the earliest claim (site A's), each
// other site rejects its own request with the reason on its timeline and
// releases that request's other numbers, and A's request then completes.
// After convergence every site holds the same documents at the same
// revisions, no number is active on two requests and the number is in
// service once.
func TestNumberClaimedAtSeveralSites(t *testing.T) {
	prefix := couchdbtest.Prefix() + "claims_"
	ss, links, keeper := linkedSites(t, prefix)
	a := ss[0]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const number, other = "+13125550180", "+13125550181"

	master, _, err := a.svc.Bootstrap(ctx, "claims-master-key-0123")
	if err != nil {
		t.Fatal(err)
	}
	newAccount := func(name string) *porting.Account {
		t.Helper()
		f := porting.Fields{}
		f.Set("name", name)
		acct, err := a.svc.CreateAccount(ctx, master, master.ID, f)
		if err != nil {
			t.Fatal(err)
		}
		return acct
	}
	x, y := newAccount("Account X"), newAccount("Account Y")
	if _, err := keeper.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range ss[1:] {
		waitFor(t, "the accounts replicated to "+s.url, func() bool {
			_, err1 := s.store.GetAccount(ctx, x.ID)
			_, err2 := s.store.GetAccount(ctx, y.ID)
			return err1 == nil && err2 == nil
		})
	}

	for _, l := range links {
		l.cut()
	}
	submit := func(s *siteUnderTest, acct *porting.Account, numbers ...string) *porting.Request {
		t.Helper()
		data := porting.Fields{}
		data.Set("name", "claimed at "+s.url)
		nums := map[string]any{}
		for _, n := range numbers {
			nums[n] = map[string]any{}
		}
		data.Set("numbers", nums)
		r, err := s.svc.CreateRequest(ctx, master, acct.ID, data)
		if err != nil {
			t.Fatal(err)
		}
		if r, err = s.svc.Transition(ctx, master, acct.ID, r.ID, porting.Submitted, porting.TransitionInput{AcceptCharges: true}); err != nil {
			t.Fatalf("%s: submit: %v", s.url, err)
		}
		return r
	}
	// One claim per site, a second apart (claims count seconds): A's is
	// the earliest. B's request carries a second number no one else wants.
	var reqs []*porting.Request
	for i, s := range ss {
		if i > 0 {
			time.Sleep(1100 * time.Millisecond)
		}
		switch i {
		case 0:
			reqs = append(reqs, submit(s, x, number))
		case 1:
			reqs = append(reqs, submit(s, y, number, other))
		default:
			reqs = append(reqs, submit(s, x, number))
		}
	}
	winner := reqs[0]
	if _, err := a.svc.Transition(ctx, master, x.ID, winner.ID, porting.Pending, porting.TransitionInput{}); err != nil {
		t.Fatal(err)
	}
	_, err = a.svc.Transition(ctx, master, x.ID, winner.ID, porting.Completed, porting.TransitionInput{})
	if !porting.IsKind(err, porting.KindUnavailable) || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("completion while the other sites are cut off: %v, want unavailable (a site did not answer)", err)
	}

	// Mend the links.
	heal := func() time.Time {
		t.Helper()
		for _, l := range links {
			l.mend()
		}
		healed := time.Now()
		// Restart the replications at once rather than wait for the
		// schedulers' back-off: their documents go, and once no job of
		// them is left, come back.
		stopReplication(ctx, t, keeper, prefix, ss...)
		if _, err := keeper.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		return healed
	}
	healed := heal()
	var wg sync.WaitGroup
	for _, s := range ss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.store.WatchConflicts(ctx, kazoo.ConflictWatch{Settle: 200 * time.Millisecond, NumberSweep: 200 * time.Millisecond, ReconcileClaim: s.svc.ReconcileClaim,
				Report: func(r kazoo.ConflictReport) {
					if r.Err != nil {
						t.Errorf("%s: resolving %s: %v", s.url, r.ID, r.Err)
					}
				}})
			if err != nil && ctx.Err() == nil {
				t.Errorf("watcher: %v", err)
			}
		}()
	}
	claims := prefix + "port_number_claims"
	waitFor(t, "the earliest claim standing alone on every site and the later requests rejected everywhere", func() bool {
		for _, s := range ss {
			l := liveLeaves(t, s, claims, number)
			if len(l) != 1 {
				return false
			}
			var c porting.Claim
			if json.Unmarshal(l[0].Doc, &c) != nil || c.RequestID != winner.ID {
				return false
			}
			for _, r := range reqs[1:] {
				got, err := s.store.GetRequest(ctx, r.ID)
				if err != nil || got.State != porting.Rejected {
					return false
				}
			}
		}
		return true
	})
	t.Logf("%d sites: claims settled and losers rejected on every site %v after the links were mended", len(ss), time.Since(healed).Round(time.Millisecond))

	for _, s := range ss {
		for _, r := range reqs[1:] {
			got, err := s.store.GetRequest(ctx, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			tr := got.Transitions[0]
			if tr.Transition.New != porting.Rejected || !strings.Contains(tr.Reason, number) || !strings.Contains(tr.Reason, "another site") {
				t.Errorf("%s: %s: last transition %+v, want the rejection with its reason", s.url, r.ID, tr)
			}
			if r.AccountID != winner.AccountID && strings.Contains(tr.Reason, winner.ID) {
				t.Errorf("%s: %s: the reason %q names another account's request", s.url, r.ID, tr.Reason)
			}
		}
		waitFor(t, "the loser's other number released on "+s.url, func() bool {
			return len(liveLeaves(t, s, claims, other)) == 0
		})
	}

	// The winner completes once every site holds its claim alone.
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := a.svc.Transition(ctx, master, x.ID, winner.ID, porting.Completed, porting.TransitionInput{})
		if err == nil {
			break
		}
		if !porting.IsKind(err, porting.KindUnavailable) || time.Now().After(deadline) {
			t.Fatalf("completing the winner after the partition: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A loser completed by its authority afterwards is refused: the
	// number is in service.
	loser := reqs[1]
	_, err = ss[1].svc.Transition(ctx, master, loser.AccountID, loser.ID, porting.Completed, porting.TransitionInput{})
	if !porting.IsKind(err, porting.KindInvalidRequest) {
		t.Fatalf("completing the losing request: %v, want a number error", err)
	}
	if data, _ := json.Marshal(err.(*porting.Error).Data); !strings.Contains(string(data), number) {
		t.Errorf("completing the losing request: %s names no %s", data, number)
	} else {
		t.Logf("completing a loser afterwards: %v %s", err, data)
	}

	// The completion created a number database: the keeper, run again
	// as portreqd replicate --every does, replicates it too.
	if _, err := keeper.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	var diff string
	waitFor(t, "every site holding the same documents at the same revisions", func() bool {
		want := revisions(t, ss[0], prefix)
		for _, s := range ss[1:] {
			if diff = revisionsDiff(want, revisions(t, s, prefix)); diff != "" {
				diff = s.url + ": " + diff
				return false
			}
		}
		return true
	}, func() string { return diff })
	for _, s := range ss {
		holders, err := s.store.ActiveHolders(ctx, []string{number, other})
		if err != nil {
			t.Fatal(err)
		}
		for n, h := range holders {
			if len(h) > 1 {
				t.Errorf("%s: %s is active on %d requests: %+v", s.url, n, len(h), h)
			}
		}
		nums, err := s.store.GetNumbers(ctx, []string{number})
		if err != nil {
			t.Fatal(err)
		}
		if d := nums[number]; d == nil || d.PortID != winner.ID || d.AssignedTo != x.ID {
			t.Errorf("%s: %s in service as %+v, want ported by %s for %s", s.url, number, d, winner.ID, x.ID)
		}
	}

	// The number in service, edited at two sites during a second
	// partition (as Kazoo would edit its features), keeps the later edit
	// in both its copies, the number database and the account's.
	for _, l := range links {
		l.cut()
	}
	copies := []string{prefix + porting.NumberDB(number), prefix + porting.AccountDB(x.ID)}
	edit := func(s *siteUnderTest, name string, modified int64) {
		t.Helper()
		for _, db := range copies {
			raw, err := s.eng.Get(ctx, db, number, engine.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			doc["cnam"] = map[string]any{"display_name": name}
			doc["pvt_modified"] = modified
			body, _ := json.Marshal(doc)
			if _, err := s.eng.Put(ctx, db, number, body); err != nil {
				t.Fatal(err)
			}
		}
	}
	now := porting.Gregorian(time.Now())
	edit(ss[1], "Edited later", now+1)
	edit(ss[0], "Edited first", now)
	healed = heal()
	waitFor(t, "the later edit of the number standing alone in both copies on every site", func() bool {
		for _, s := range ss {
			for _, db := range copies {
				l := liveLeaves(t, s, db, number)
				var d struct {
					CNAM struct {
						Name string `json:"display_name"`
					} `json:"cnam"`
				}
				if len(l) != 1 || json.Unmarshal(l[0].Doc, &d) != nil || d.CNAM.Name != "Edited later" {
					return false
				}
			}
		}
		return true
	}, func() string {
		var out []string
		for _, s := range ss {
			for _, db := range copies {
				for _, l := range liveLeaves(t, s, db, number) {
					out = append(out, s.url+" "+db+" "+l.Rev+" "+string(l.Doc))
				}
			}
		}
		return strings.Join(out, "\n")
	})
	t.Logf("number document conflict resolved on every site %v after the links were mended", time.Since(healed).Round(time.Millisecond))
	cancel()
	wg.Wait()
}

// revisions maps every shared database of prefix on site s to its
// documents' winning revisions.
func revisions(t *testing.T, s *siteUnderTest, prefix string) map[string]map[string]string {
	t.Helper()
	ctx := context.Background()
	names, err := s.eng.AllDBs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, n := range names {
		rest, ok := strings.CutPrefix(n, prefix)
		if !ok || !replication.Shared(rest) {
			continue
		}
		revs := map[string]string{}
		err := s.eng.AllDocs(ctx, n, engine.Query{}, func(r engine.Row) error {
			var v struct {
				Rev string `json:"rev"`
			}
			_ = json.Unmarshal(r.Value, &v)
			revs[r.ID] = v.Rev
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		out[rest] = revs
	}
	return out
}

// revisionsDiff says where b differs from a ("" nowhere).
func revisionsDiff(a, b map[string]map[string]string) string {
	var out []string
	for db, revs := range a {
		for id, rev := range revs {
			if b[db][id] != rev {
				out = append(out, db+"/"+id+" "+rev+" vs "+b[db][id])
			}
		}
		for id, rev := range b[db] {
			if _, ok := revs[id]; !ok {
				out = append(out, db+"/"+id+" missing vs "+rev)
			}
		}
	}
	for db := range b {
		if _, ok := a[db]; !ok {
			out = append(out, db+" missing")
		}
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}
