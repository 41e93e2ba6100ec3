package kazoo_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/couch"
	"github.com/portreqd/portreqd/pkg/kazoo"
	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
	"github.com/portreqd/portreqd/pkg/porting"
	replication "github.com/portreqd/portreqd/pkg/sites"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

// siteUnderTest is one site: its CouchDB, portreqd's store and service on it.
type siteUnderTest struct {
	url   string
	eng   engine.Engine
	store *kazoo.Store
	svc   *porting.Service
}

// twoSites opens portreqd's store on the first two servers of
// COUCHDB_SITE_URLS, with a keeper between them (not started).
func twoSites(t *testing.T, prefix string) ([2]*siteUnderTest, *replication.Keeper) {
	t.Helper()
	urls := couchdbtest.SiteURLs(t)
	var out [2]*siteUnderTest
	k := &replication.Keeper{Prefix: prefix}
	for i := range out {
		eng, st := openSite(t, urls[i], prefix)
		out[i] = &siteUnderTest{url: urls[i], eng: eng, store: st, svc: porting.NewService(porting.Config{Store: st})}
		k.Sites = append(k.Sites, replication.Site{URL: urls[i], Engine: eng})
	}
	dropSitesAtEnd(t, out[:], k, prefix)
	return out, k
}

// openSite opens portreqd's store on the CouchDB at url.
func openSite(t *testing.T, url, prefix string) (engine.Engine, *kazoo.Store) {
	t.Helper()
	ctx := context.Background()
	eng, err := couch.Open(ctx, couch.Options{URL: url, Logger: zap.NewNop(), LeaseDB: prefix + "portreqd_leases"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := kazoo.Open(ctx, eng, kazoo.Options{Prefix: prefix, KazooDesigns: true})
	if err != nil {
		t.Fatal(err)
	}
	return eng, st
}

// dropSitesAtEnd removes the keeper's replications and every database of
// prefix on each site when the test ends.
func dropSitesAtEnd(t *testing.T, sites []*siteUnderTest, k *replication.Keeper, prefix string) {
	t.Cleanup(func() {
		ctx := context.Background()
		_, _ = k.Remove(ctx)
		var engines []engine.Engine
		for _, s := range sites {
			engines = append(engines, s.eng)
		}
		kazootest.DropPrefixOn(t, prefix, engines...)
		for _, s := range sites {
			_ = s.eng.Close()
		}
	})
}

// waitFor polls cond for a minute; why, if given, explains a failure.
func waitFor(t *testing.T, what string, cond func() bool, why ...func() string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			for _, w := range why {
				what += " (" + w() + ")"
			}
			t.Fatalf("after a minute: not %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func liveLeaves(t *testing.T, s *siteUnderTest, db, id string) []engine.Leaf {
	t.Helper()
	leaves, err := s.eng.Leaves(context.Background(), db, id)
	if err != nil && !errors.Is(err, engine.ErrNotFound) {
		t.Fatal(err)
	}
	var live []engine.Leaf
	for _, l := range leaves {
		if !l.Deleted {
			live = append(live, l)
		}
	}
	return live
}

// TestConflictResolvedAcrossSites edits one port request at two sites
// while they do not replicate (site A moves it to pending, comments and
// attaches a.pdf; site B comments and attaches b.pdf), lets replication
// bring the two revisions together, and runs the conflict watcher on both
// sites at once. Both sites end on the same single revision holding both
// sites' comments, A's transition, both attachments byte for byte and a
// comment recording the merge; no revision is left in conflict. The master
// account, renamed at both sites, keeps the later name in both its copies.
func TestConflictResolvedAcrossSites(t *testing.T) {
	prefix := couchdbtest.Prefix() + "conflict_"
	ss, keeper := twoSites(t, prefix)
	a, b := ss[0], ss[1]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	requests := prefix + "port_requests"

	master, _, err := a.svc.Bootstrap(ctx, "conflict-master-key-0123")
	if err != nil {
		t.Fatal(err)
	}
	data := porting.Fields{}
	data.Set("name", "two sites")
	data.Set("numbers", map[string]any{"+13125550170": map[string]any{}})
	r, err := a.svc.CreateRequest(ctx, master, master.ID, data)
	if err != nil {
		t.Fatal(err)
	}
	if r, err = a.svc.Transition(ctx, master, master.ID, r.ID, porting.Submitted, porting.TransitionInput{AcceptCharges: true}); err != nil {
		t.Fatal(err)
	}
	// Replicate until B holds the request at A's revision, then partition.
	if _, err := keeper.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the request replicated to B", func() bool {
		l := liveLeaves(t, b, requests, r.ID)
		return len(l) == 1 && l[0].Rev == r.Rev
	})
	waitFor(t, "the master replicated to B", func() bool {
		_, err := b.store.GetAccount(ctx, master.ID)
		return err == nil
	})
	stopReplication(ctx, t, keeper, prefix, ss[:]...)

	comment := func(s *siteUnderTest, text string) {
		t.Helper()
		c := porting.Fields{}
		c.Set("comments", []any{map[string]any{"content": text}})
		if _, err := s.svc.AddComments(ctx, master, master.ID, r.ID, c); err != nil {
			t.Fatal(err)
		}
	}
	attach := func(s *siteUnderTest, name, content string) {
		t.Helper()
		u := porting.Upload{Name: name, ContentType: "application/pdf", Open: func() (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader(content)), nil
		}}
		if _, err := s.svc.PutAttachment(ctx, master, master.ID, r.ID, u, false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.svc.Transition(ctx, master, master.ID, r.ID, porting.Pending, porting.TransitionInput{}); err != nil {
		t.Fatal(err)
	}
	comment(a, "from site A")
	attach(a, "a.pdf", "%PDF-1.4 site A")
	comment(b, "from site B")
	attach(b, "b.pdf", "%PDF-1.4 site B")
	// The master renamed at both sites, B a second later: B's name stands.
	rename := func(s *siteUnderTest, name string) {
		t.Helper()
		f := porting.Fields{}
		f.Set("name", name)
		if _, err := s.svc.UpdateAccount(ctx, master, master.ID, f); err != nil {
			t.Fatal(err)
		}
	}
	rename(a, "Renamed at A")
	time.Sleep(1100 * time.Millisecond) // pvt_modified counts seconds
	rename(b, "Renamed at B")

	// Heal, and wait for the conflict to show on both sites.
	if _, err := keeper.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		waitFor(t, "the conflicts on "+s.url, func() bool {
			return len(liveLeaves(t, s, requests, r.ID)) == 2 && len(liveLeaves(t, s, prefix+"accounts", master.ID)) == 2
		})
	}
	var mu sync.Mutex
	merges := 0
	var wg sync.WaitGroup
	for _, s := range ss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.store.WatchConflicts(ctx, kazoo.ConflictWatch{Settle: 100 * time.Millisecond, Report: func(r kazoo.ConflictReport) {
				if r.Err != nil {
					t.Errorf("resolving %s: %v", r.ID, r.Err)
					return
				}
				mu.Lock()
				merges++
				mu.Unlock()
			}})
			if err != nil && ctx.Err() == nil {
				t.Errorf("watcher: %v", err)
			}
		}()
	}
	var revs [2]string
	waitFor(t, "one revision, the same, on both sites", func() bool {
		for i, s := range ss {
			l := liveLeaves(t, s, requests, r.ID)
			if len(l) != 1 {
				return false
			}
			revs[i] = l[0].Rev
		}
		if revs[0] != revs[1] {
			return false
		}
		// Both copies of the master: one revision, the same on both sites.
		for _, db := range []string{prefix + "accounts", prefix + porting.AccountDB(master.ID)} {
			l0, l1 := liveLeaves(t, ss[0], db, master.ID), liveLeaves(t, ss[1], db, master.ID)
			if len(l0) != 1 || len(l1) != 1 || l0[0].Rev != l1[0].Rev {
				return false
			}
		}
		return true
	})
	// Let replication carry the last writes both ways before looking.
	time.Sleep(time.Second)
	cancel()
	wg.Wait()
	t.Logf("%d resolutions written over both sites; the request's final revision %s", merges, revs[0])

	for _, s := range ss {
		for _, db := range []string{prefix + "accounts", prefix + porting.AccountDB(master.ID)} {
			var acct struct {
				Name string `json:"name"`
			}
			if l := liveLeaves(t, s, db, master.ID); len(l) != 1 || json.Unmarshal(l[0].Doc, &acct) != nil || acct.Name != "Renamed at B" {
				t.Errorf("%s: %s: the master is %q, want the later name", s.url, db, acct.Name)
			}
		}
		got, err := s.store.GetRequest(context.Background(), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != porting.Pending {
			t.Errorf("%s: state %s, want pending (A's transition is the newest)", s.url, got.State)
		}
		// Each merge's own event (a merge of revisions that arrive in
		// stages happens more than once), never twice under one id, and
		// every event both sites wrote.
		resolved, commented := 0, 0
		ids := map[string]bool{}
		for _, e := range got.Outbox() {
			if ids[e.ID] {
				t.Errorf("%s: event %s twice in the outbox", s.url, e.ID)
			}
			ids[e.ID] = true
			switch e.Type {
			case porting.EventConflictResolved:
				resolved++
				if !strings.Contains(e.Reason, "merged") {
					t.Errorf("%s: the merge's event %+v", s.url, e)
				}
			case porting.EventComment:
				commented++
			}
		}
		if resolved < 1 || commented != 2 {
			t.Errorf("%s: outbox has %d conflict_resolved and %d comment events, want at least 1 and 2: %+v", s.url, resolved, commented, got.Outbox())
		}
		var comments []struct {
			Content string `json:"content"`
		}
		_ = json.Unmarshal(got.Public["comments"], &comments)
		var texts []string
		for _, c := range comments {
			texts = append(texts, c.Content)
		}
		all := strings.Join(texts, " | ")
		for _, want := range []string{"from site A", "from site B", "were merged"} {
			if !strings.Contains(all, want) {
				t.Errorf("%s: comments %q lack %q", s.url, all, want)
			}
		}
		for name, want := range map[string]string{"a.pdf": "%PDF-1.4 site A", "b.pdf": "%PDF-1.4 site B"} {
			att, err := s.store.GetAttachment(context.Background(), r.ID, name)
			if err != nil {
				t.Errorf("%s: %s: %v", s.url, name, err)
				continue
			}
			body, _ := io.ReadAll(att.Body)
			att.Body.Close()
			if string(body) != want {
				t.Errorf("%s: %s holds %q, want %q", s.url, name, body, want)
			}
		}
		pending := false
		for _, tr := range got.Transitions {
			pending = pending || tr.Transition.New == porting.Pending
		}
		if !pending {
			t.Errorf("%s: the transition to pending is lost: %+v", s.url, got.Transitions)
		}
	}
}

// stopReplication removes the keeper's replications and waits until no
// job of prefix runs on any site: the schedulers stop them in their own
// time (seconds on a loaded machine), and only then do the sites stand
// apart.
func stopReplication(ctx context.Context, t *testing.T, keeper *replication.Keeper, prefix string, sites ...*siteUnderTest) {
	t.Helper()
	if _, err := keeper.Remove(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replications stopped", func() bool {
		for _, s := range sites {
			if replicationJobs(t, s.url, prefix) > 0 {
				return false
			}
		}
		return true
	})
}

// replicationJobs counts the replication jobs server url runs for
// databases of prefix (GET /_scheduler/jobs), which may outlive their
// _replicator documents for a while.
func replicationJobs(t *testing.T, url, prefix string) int {
	t.Helper()
	resp, err := http.Get(strings.TrimRight(url, "/") + "/_scheduler/jobs")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var answer struct {
		Jobs []struct {
			Source string `json:"source"`
		} `json:"jobs"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, j := range answer.Jobs {
		if strings.Contains(j.Source, prefix) {
			n++
		}
	}
	return n
}
