package e2e

// The TestCluster* tests run two portreqd processes against two different
// nodes of one CouchDB cluster (COUCHDB_CLUSTER_URLS, e.g. the last line of
// `couchdb/cluster start -d DIR`) and check that the guarantees portreqd
// gives on one CouchDB hold across coordinators: one number on at most one
// active request, every acknowledged upload kept, a completion and a cancel
// racing leave either a completed request with its numbers in service or a
// canceled one with none.
//
// Every violation is reported with what each process answered and what
// CouchDB holds (claim documents read with ?conflicts=true on every node),
// and every loop is bounded in rounds and time.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/engine/couch"
	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

const clusterURLsVar = "COUCHDB_CLUSTER_URLS"

// clusterSettle bounds how long a read-back waits for views (which read one
// copy of each shard) to catch up with a write acknowledged by a quorum.
const clusterSettle = 3 * time.Second

// clusterNamesRacer reports whether msg is "Number is on a port request
// already: <id>" for one of ids.
func clusterNamesRacer(msg string, ids []string) bool {
	id, ok := strings.CutPrefix(msg, "Number is on a port request already: ")
	return ok && slices.Contains(ids, id)
}

// clusterNodeURLs returns the node URLs named by COUCHDB_CLUSTER_URLS. Unset
// it skips, except under CI=true where a silently skipped suite would hide a
// broken set-up; "none" skips on purpose (a CI machine without CouchDB).
func clusterNodeURLs(t *testing.T) []string {
	t.Helper()
	v := strings.TrimSpace(os.Getenv(clusterURLsVar))
	const how = "start one with `couchdb/cluster start -d DIR` and set " + clusterURLsVar + " to the node URLs it prints"
	switch v {
	case "none":
		t.Skip(clusterURLsVar + "=none: no CouchDB cluster on this machine, the cluster tests did not run")
	case "":
		if os.Getenv("CI") == "true" {
			t.Fatal(clusterURLsVar + " is not set under CI=true: " + how + " (or set it to none where no CouchDB tarball exists)")
		}
		t.Skip("no CouchDB cluster: " + how)
	}
	var urls []string
	for _, u := range strings.Split(v, ",") {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" {
			urls = append(urls, u)
		}
	}
	if len(urls) < 2 {
		t.Fatalf("%s names %d node URL(s); the cluster tests need two nodes or more", clusterURLsVar, len(urls))
	}
	return urls
}

// clusterDeployment is two portreqd processes sharing one database prefix
// and token secret, each talking to a different CouchDB node.
type clusterDeployment struct {
	nodes  []string // node URLs with credentials
	names  []string // Erlang node names, for reports
	prefix string
	srv    [2]*server
	mtok   string // master token (valid on both processes)
	master string // master account id

	conflicts map[string]bool // "number rev" of every conflicting claim revision seen
}

// clusterStart bootstraps the master account (clusterBootstrap), starts the
// first process on node 0 and waits until the master's API key logs in
// through it, then starts the second on node 1, which must find the same
// master and not create its own.
func clusterStart(t *testing.T) *clusterDeployment {
	t.Helper()
	nodes := clusterNodeURLs(t)
	d := &clusterDeployment{nodes: nodes, conflicts: map[string]bool{}}
	for _, n := range nodes {
		d.names = append(d.names, clusterNodeName(t, n))
	}
	if d.names[0] == d.names[1] {
		t.Fatalf("%s: the first two URLs reach the same CouchDB node %s", clusterURLsVar, d.names[0])
	}
	status, m := clusterGetJSON(t, nodes[0], "/_membership")
	if members, _ := m["cluster_nodes"].([]any); status != http.StatusOK || len(members) < 2 {
		t.Fatalf("%s is not a cluster: GET /_membership answered %d %v", couch.MaskURL(nodes[0]), status, m)
	}
	d.prefix = couchdbtest.Prefix() + strings.ToLower(t.Name()) + "_"
	t.Cleanup(func() { kazootest.DropPrefix(t, nodes[0], d.prefix) }) // after the processes stop
	secret := "e2e-cluster-secret-0123456789abcdef-" + t.Name()
	for i := range d.srv {
		e := &env{kind: storeCouch, couchURL: nodes[i], prefix: d.prefix, secret: secret, apiKey: "e2e-master-key-0123456789"}
		if i == 0 {
			clusterBootstrap(t, e)
		}
		d.srv[i] = e.start(t)
		tok, master := clusterLogin(t, d.srv[i], e.apiKey, fmt.Sprintf("master through process %d", i+1))
		if i == 0 {
			d.mtok, d.master = tok, master
		} else if master != d.master {
			t.Fatalf("the second process found master account %s, the first created %s", master, d.master)
		}
		if i > 0 && strings.Contains(d.srv[i].logs.String(), `"msg":"created master account"`) {
			t.Errorf("process %d created a master account of its own although one existed:\n%s", i+1, tail(d.srv[i].logs.String(), 10))
		}
		t.Logf("portreqd %d (%s) on CouchDB node %s (%s)", i+1, d.srv[i].URL, d.names[i], couch.MaskURL(nodes[i]))
	}
	return d
}

// clusterLogin exchanges an API key for a token through s. portreqd finds
// API keys through a view, and CouchDB answers a view from one copy of each
// shard, which may not have an account written a moment ago: a 401 is
// retried for up to 5 s and logged as a finding.
func clusterLogin(t *testing.T, s *server, apiKey, what string) (token, accountID string) {
	t.Helper()
	start := time.Now()
	for attempt := 1; ; attempt++ {
		r := s.do(t, http.MethodPut, "/v2/api_auth", "", map[string]any{"data": map[string]any{"api_key": apiKey}})
		if r.Status == http.StatusCreated {
			token, _ = r.Body["auth_token"].(string)
			accountID, _ = r.data()["account_id"].(string)
			if attempt > 1 {
				t.Logf("FINDING: login of %s answered 401 for %v (%d attempts) after its account was created", what, time.Since(start).Round(time.Millisecond), attempt-1)
			}
			return token, accountID
		}
		if r.Status != http.StatusUnauthorized || time.Since(start) > 5*time.Second {
			t.Fatalf("login of %s: %s after %d attempt(s) in %v", what, clusterAnswer(r), attempt, time.Since(start).Round(time.Millisecond))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// customer makes a sub-account of the master through process p and
// logs in as it (the harness's customer, with clusterLogin).
func (d *clusterDeployment) customer(t *testing.T, p int, name string) (token, id string) {
	t.Helper()
	id = d.srv[p].createAccount(t, d.mtok, d.master, name, nil)
	key, _ := d.srv[p].do(t, http.MethodGet, "/v2/accounts/"+id+"/api_key", d.mtok, nil).expect(t, http.StatusOK).data()["api_key"].(string)
	token, _ = clusterLogin(t, d.srv[p], key, "customer "+name)
	return token, id
}

// clusterBootstrap runs portreqd against e until it listens, then stops it,
// so that the master account exists before the processes under test start.
// On a fresh cluster portreqd's first start may exit with "bootstrap master
// account: bad identifier": it creates the master account and reads it back
// through a view, which CouchDB answers from one copy of each shard, not
// necessarily one the write reached. That is logged and retried (3 attempts)
// rather than failing the concurrency tests for it.
func clusterBootstrap(t *testing.T, e *env) {
	t.Helper()
	var last string
	for attempt := 1; attempt <= 3; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		cmd := exec.CommandContext(ctx, binary, append([]string{"--listen", "127.0.0.1:0",
			"--master-api-key", e.apiKey, "--token-secret", e.secret, "--shutdown-timeout", "5s"}, e.storeArgs()...)...)
		cmd.Env = append(os.Environ(), "PORTREQ_LOG_LEVEL=info")
		out, err := cmd.StdoutPipe()
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		cmd.Stderr = cmd.Stdout
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatalf("start portreqd: %v", err)
		}
		listening := false
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var rec struct {
				Msg string `json:"msg"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
				listening = true
				break
			}
			last = sc.Text()
		}
		if listening {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_, _ = io.Copy(io.Discard, out) // until it exits
		}
		err = cmd.Wait()
		cancel()
		if listening {
			return
		}
		t.Logf("FINDING: portreqd's first start on the cluster exited (attempt %d of 3, %v): %s", attempt, err, last)
	}
	t.Fatalf("portreqd could not bootstrap on the cluster in 3 attempts; last: %s", last)
}

// clusterNodeName asks a node its Erlang name (GET /_node/_local).
func clusterNodeName(t *testing.T, nodeURL string) string {
	t.Helper()
	status, m := clusterGetJSON(t, nodeURL, "/_node/_local")
	name, _ := m["name"].(string)
	if status != http.StatusOK || name == "" {
		t.Fatalf("GET %s/_node/_local answered %d %v", couch.MaskURL(nodeURL), status, m)
	}
	return name
}

// clusterGetJSON reads path from a CouchDB node (credentials from the URL).
func clusterGetJSON(t *testing.T, nodeURL, path string) (int, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, nodeURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s%s: %v", couch.MaskURL(nodeURL), path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m
}

// clusterRace runs fn(0..n-1) in n goroutines released at the same moment
// and returns their answers in order.
func clusterRace(n int, fn func(i int) *response) []*response {
	out := make([]*response, n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		ready.Add(1)
		done.Add(1)
		go func(i int) {
			defer done.Done()
			ready.Done()
			<-start
			out[i] = fn(i)
		}(i)
	}
	ready.Wait()
	close(start)
	done.Wait()
	return out
}

// clusterNumberError returns the message of the documented number error for
// asSent (500, "invalid request", data.<asSent>.type.message), ok=false when
// r is something else.
func clusterNumberError(r *response, asSent string) (string, bool) {
	if r == nil || r.Status != http.StatusInternalServerError || r.Body["message"] != "invalid request" {
		return "", false
	}
	d, _ := r.data()[asSent].(map[string]any)
	typ, _ := d["type"].(map[string]any)
	msg, _ := typ["message"].(string)
	return msg, typ["cause"] == asSent && msg != ""
}

// clusterAnswer is a short description of an answer for reports.
func clusterAnswer(r *response) string {
	if r == nil {
		return "no answer"
	}
	raw := string(r.Raw)
	if r.Body != nil { // the envelope without its auth_token
		msg, _ := r.Body["message"].(string)
		data, _ := json.Marshal(r.Body["data"])
		raw = strings.TrimSpace(msg + " " + string(data))
	}
	if len(raw) > 200 {
		raw = raw[:200] + "…"
	}
	return fmt.Sprintf("%d %s", r.Status, raw)
}

var clusterActiveStates = []string{"submitted", "pending", "scheduled"}

// clusterActiveWith returns the ids of active requests carrying number in a
// flat list of requests or in grouped listing rows.
func clusterActiveWith(rows []any, number string) []string {
	var ids []string
	var visit func(v any)
	visit = func(v any) {
		m, _ := v.(map[string]any)
		if prs, ok := m["port_requests"].([]any); ok {
			for _, pr := range prs {
				visit(pr)
			}
			return
		}
		state, _ := m["port_state"].(string)
		nums, _ := m["numbers"].(map[string]any)
		if _, ok := nums[number]; ok && slices.Contains(clusterActiveStates, state) {
			id, _ := m["id"].(string)
			ids = append(ids, id)
		}
	}
	for _, r := range rows {
		visit(r)
	}
	sort.Strings(ids)
	return ids
}

// activeVia reads path (a by_number search or a listing) through process p
// and returns the active requests carrying number. A view reads one copy of
// each shard, so a fresh write may be missing for a moment: while the answer
// holds fewer ids than want, it reads again until clusterSettle passes. More
// ids than want is never stale, it is returned at once.
func (d *clusterDeployment) activeVia(t *testing.T, p int, token, path, number string, want int) []string {
	t.Helper()
	deadline := time.Now().Add(clusterSettle)
	for {
		r := d.srv[p].do(t, http.MethodGet, path, token, nil).expect(t, http.StatusOK)
		ids := clusterActiveWith(r.list(), number)
		if len(ids) >= want || time.Now().After(deadline) {
			return ids
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// clusterClaim is one node's answer for a claim document.
type clusterClaim struct {
	node      string
	status    int
	holder    string   // port_request_id of the winning revision
	conflicts []string // "port_request_id (rev R)" of each conflicting revision
}

func (c clusterClaim) String() string {
	if c.status != http.StatusOK {
		return fmt.Sprintf("%s: %d", c.node, c.status)
	}
	s := c.node + ": held by " + c.holder
	if len(c.conflicts) > 0 {
		s += fmt.Sprintf(", conflicting revisions held by %v", c.conflicts)
	}
	return s
}

// claims reads the claim document of number through every node with
// ?conflicts=true, and each conflicting revision.
func (d *clusterDeployment) claims(t *testing.T, number string) []clusterClaim {
	t.Helper()
	path := "/" + couchSegment(d.prefix+"port_number_claims") + "/" + couchSegment(number)
	var out []clusterClaim
	for i, n := range d.nodes {
		status, doc := clusterGetJSON(t, n, path+"?conflicts=true")
		c := clusterClaim{node: d.names[i], status: status}
		if status == http.StatusOK {
			c.holder, _ = doc["port_request_id"].(string)
			revs, _ := doc["_conflicts"].([]any)
			for _, rev := range revs {
				rs, _ := rev.(string)
				_, old := clusterGetJSON(t, n, path+"?rev="+url.QueryEscape(rs))
				h, _ := old["port_request_id"].(string)
				c.conflicts = append(c.conflicts, h+" (rev "+rs+")")
				d.conflicts[number+" "+rs] = true
			}
		}
		out = append(out, c)
	}
	return out
}

// checkClaims reports conflicting claim revisions for number (they are
// counted in d.conflicts) and fails unless the winning claim names holder
// on every node ("" = no active holder: then it only reports). It waits
// clusterSettle for the nodes to agree.
func (d *clusterDeployment) checkClaims(t *testing.T, number, holder, where string) {
	t.Helper()
	deadline := time.Now().Add(clusterSettle)
	for {
		cs := d.claims(t, number)
		ok, conflicted := true, false
		for _, c := range cs {
			conflicted = conflicted || len(c.conflicts) > 0
			if holder != "" && (c.status != http.StatusOK || c.holder != holder) {
				ok = false
			}
		}
		if ok || time.Now().After(deadline) {
			if conflicted {
				t.Logf("%s: CouchDB holds conflicting revisions of the claim on %s: %v", where, number, cs)
			}
			if !ok {
				t.Errorf("%s: %s is held by active request %s, but its claim document says otherwise: %v", where, number, holder, cs)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterConcurrentSubmits submits ten requests sharing one number at
// once, alternating between the processes (so between coordinators), for a
// few rounds: exactly one submit may succeed, every other one gets the
// number error naming the winner, and both processes then show exactly one
// submitted request with the number.
func TestClusterConcurrentSubmits(t *testing.T) {
	d := clusterStart(t)
	tok, acct := d.customer(t, 0, "Racer")
	base := "/v2/accounts/" + acct + "/port_requests"
	const rounds, n = 4, 10
	deadline := time.Now().Add(40 * time.Second)
	var played, badRounds int
	for round := 0; round < rounds && time.Now().Before(deadline); round++ {
		played++
		shared := fmt.Sprintf("+3314270%d000", round)
		ids := make([]string, n)
		for i := range ids {
			ids[i] = d.srv[i%2].createRequest(t, tok, acct, fmt.Sprintf("round %d racer %d", round, i), shared, fmt.Sprintf("+3314271%d%03d", round, i))
		}
		answers := clusterRace(n, func(i int) *response {
			return d.srv[i%2].do(t, http.MethodPatch, base+"/"+ids[i]+"/submitted", tok, nil)
		})
		var winners []string
		for i, r := range answers {
			if r.Status == http.StatusOK {
				winners = append(winners, fmt.Sprintf("%s (process %d)", ids[i], i%2+1))
			}
		}
		bad := len(winners) != 1
		if bad {
			t.Errorf("round %d: %d of %d concurrent submits of %s succeeded, want exactly 1: %v", round, len(winners), n, shared, winners)
		}
		for i, r := range answers {
			if r.Status == http.StatusOK {
				continue
			}
			msg, ok := clusterNumberError(r, shared)
			switch {
			case !ok:
				bad = true
				t.Errorf("round %d: submit of %s through process %d answered %s, want 200 or the number error", round, ids[i], i%2+1, clusterAnswer(r))
			case len(winners) == 1 && !clusterNamesRacer(msg, ids):
				// While the race is on, a loser's claim can be seen for a
				// moment on the copy it reached before it is withdrawn:
				// the refusal may name that racer rather than the winner.
				// It must name one of this round's requests.
				bad = true
				t.Errorf("round %d: submit of %s through process %d was refused with %q, which names no request of this round (winner %s)", round, ids[i], i%2+1, msg, winners[0])
			}
		}

		// Read back through each process: by id (quorum reads), by number
		// and in the submitted listing (views).
		var holder string
		var submitted []string
		for p := range d.srv {
			submitted = nil
			for _, id := range ids {
				r := d.srv[p].do(t, http.MethodGet, base+"/"+id, tok, nil).expect(t, http.StatusOK)
				if r.data()["port_state"] == "submitted" {
					submitted = append(submitted, id)
				}
			}
			if len(submitted) != 1 {
				bad = true
				t.Errorf("round %d: through process %d, %d requests with %s are submitted, want 1: %v", round, p+1, len(submitted), shared, submitted)
			} else {
				holder = submitted[0]
			}
			byNumber := d.activeVia(t, p, tok, base+"?by_number="+url.QueryEscape(shared), shared, 1)
			listed := d.activeVia(t, p, tok, base+"/submitted", shared, 1)
			for what, got := range map[string][]string{"?by_number=": byNumber, "the submitted listing": listed} {
				if len(got) != 1 || (holder != "" && got[0] != holder) {
					bad = true
					t.Errorf("round %d: through process %d, %s shows active requests %v with %s, want exactly one (by id: %v)", round, p+1, what, got, shared, submitted)
				}
			}
		}
		if len(winners) == 1 {
			d.checkClaims(t, shared, holder, fmt.Sprintf("round %d", round))
		} else {
			d.checkClaims(t, shared, "", fmt.Sprintf("round %d", round))
		}
		if bad {
			badRounds++
		}
	}
	t.Logf("%d rounds of %d concurrent submits through 2 processes on nodes %s and %s: %d round(s) broke the rule, %d conflicting claim revision(s) seen",
		played, n, d.names[0], d.names[1], badRounds, len(d.conflicts))
}

// TestClusterClaims creates and submits requests with overlapping number
// sets through both processes at once, for a few rounds; after each round no
// number may be on two active requests, whether read by id, by number or in
// listings through either process, and the claim documents (read on every
// node with ?conflicts=true) must name the holder. Canceling everything must
// free every number again.
func TestClusterClaims(t *testing.T) {
	d := clusterStart(t)
	type customer struct{ tok, id string }
	var accts [2]customer
	for i := range accts {
		accts[i].tok, accts[i].id = d.customer(t, i, fmt.Sprintf("Claimer %d", i))
	}
	pool := make([]string, 6)
	for i := range pool {
		pool[i] = fmt.Sprintf("+44207946%04d", i)
	}
	const rounds, workers = 3, 12
	deadline := time.Now().Add(45 * time.Second)
	acctOf := map[string]string{} // request id → account id
	var mu sync.Mutex
	var played, violations, submits, refused int

	for round := 0; round < rounds && time.Now().Before(deadline); round++ {
		played++
		answers := clusterRace(workers, func(w int) *response {
			c := accts[w%2]
			nums := []string{pool[(w+round)%len(pool)], pool[(w+round+1)%len(pool)], pool[(w+round+3)%len(pool)]}
			created := d.srv[w%2].do(t, http.MethodPut, "/v2/accounts/"+c.id+"/port_requests", c.tok,
				reqBody(fmt.Sprintf("round %d worker %d", round, w), nums...))
			if created.Status != http.StatusCreated {
				return created // refused at creation: a number is held already
			}
			id, _ := created.data()["id"].(string)
			mu.Lock()
			acctOf[id] = c.id
			mu.Unlock()
			return d.srv[(w+1)%2].do(t, http.MethodPatch, "/v2/accounts/"+c.id+"/port_requests/"+id+"/submitted", c.tok, nil)
		})
		for w, r := range answers {
			switch {
			case r.Status == http.StatusOK:
				submits++
			case r.Status == http.StatusInternalServerError && r.Body["message"] == "invalid request":
				refused++
			default:
				violations++
				t.Errorf("round %d worker %d: answered %s, want 201/200 or the number error", round, w, clusterAnswer(r))
			}
		}

		// By id, through both processes: which active request holds what.
		holders := map[string]map[string]bool{} // number → active ids
		ids := make([]string, 0, len(acctOf))
		for id := range acctOf {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			var states [2]string
			for p := range d.srv {
				r := d.srv[p].do(t, http.MethodGet, "/v2/accounts/"+acctOf[id]+"/port_requests/"+id, d.mtok, nil).expect(t, http.StatusOK)
				states[p], _ = r.data()["port_state"].(string)
				if slices.Contains(clusterActiveStates, states[p]) {
					for num := range r.data()["numbers"].(map[string]any) {
						if holders[num] == nil {
							holders[num] = map[string]bool{}
						}
						holders[num][id] = true
					}
				}
			}
			if states[0] != states[1] {
				violations++
				t.Errorf("round %d: request %s is %s through process 1 and %s through process 2", round, id, states[0], states[1])
			}
		}
		for _, num := range pool {
			var by []string
			for id := range holders[num] {
				by = append(by, id)
			}
			sort.Strings(by)
			if len(by) > 1 {
				violations++
				t.Errorf("round %d: %s is on %d active requests: %v", round, num, len(by), by)
			}
			holder := ""
			if len(by) == 1 {
				holder = by[0]
			}
			want := len(by)
			for p := range d.srv {
				search := d.activeVia(t, p, d.mtok, "/v2/accounts/"+d.master+"/descendants/port_requests?by_number="+url.QueryEscape(num), num, want)
				listing := d.activeVia(t, p, d.mtok, "/v2/accounts/"+d.master+"/descendants/port_requests/submitted", num, want)
				for what, got := range map[string][]string{"?by_number=": search, "the submitted listing": listing} {
					if len(got) > 1 || !slices.Equal(got, by) {
						violations++
						t.Errorf("round %d: through process %d, %s shows active requests %v with %s; by id: %v", round, p+1, what, got, num, by)
					}
				}
			}
			d.checkClaims(t, num, holder, fmt.Sprintf("round %d", round))
		}
		// Free everything for the next round (the master cancels, through
		// alternating processes).
		i := 0
		for _, id := range ids {
			r := d.srv[i%2].do(t, http.MethodGet, "/v2/accounts/"+acctOf[id]+"/port_requests/"+id, d.mtok, nil).expect(t, http.StatusOK)
			if st, _ := r.data()["port_state"].(string); slices.Contains(clusterActiveStates, st) {
				c := d.srv[i%2].do(t, http.MethodPatch, "/v2/accounts/"+acctOf[id]+"/port_requests/"+id+"/canceled", d.mtok, nil)
				if c.Status != http.StatusOK {
					violations++
					t.Errorf("round %d: cancel of %s (%s) through process %d: %s", round, id, st, i%2+1, clusterAnswer(c))
				}
				i++
			}
		}
	}

	// Every request was canceled: each number is free again.
	var stuck int
	for k, num := range pool {
		c := accts[k%2]
		r := d.srv[k%2].do(t, http.MethodPut, "/v2/accounts/"+c.id+"/port_requests", c.tok, reqBody("after cancel "+num, num))
		step := "create"
		if r.Status == http.StatusCreated {
			id, _ := r.data()["id"].(string)
			r = d.srv[(k+1)%2].do(t, http.MethodPatch, "/v2/accounts/"+c.id+"/port_requests/"+id+"/submitted", c.tok, nil)
			step = "submit"
		}
		if step == "create" || r.Status != http.StatusOK {
			stuck++
			var holders []string
			for _, cl := range d.claims(t, num) {
				if cl.holder != "" && acctOf[cl.holder] != "" && !slices.Contains(holders, cl.holder) {
					h := d.srv[0].do(t, http.MethodGet, "/v2/accounts/"+acctOf[cl.holder]+"/port_requests/"+cl.holder, d.mtok, nil)
					holders = append(holders, cl.holder)
					t.Logf("%s: the claim's request %s is %v", num, cl.holder, h.data()["port_state"])
				}
			}
			t.Errorf("%s is refused (%s) after every request holding it was canceled: %s; claim document: %v", num, step, clusterAnswer(r), d.claims(t, num))
		}
	}
	t.Logf("%d rounds of %d concurrent create+submit through 2 processes on nodes %s and %s: %d submits acknowledged, %d refused with the number error, %d violation(s), %d conflicting claim revision(s) seen, %d of %d numbers not freed by canceling",
		played, workers, d.names[0], d.names[1], submits, refused, violations, len(d.conflicts), stuck, len(pool))
}

// TestClusterAttachments uploads to one request through both processes at
// once: different names (each acknowledged upload must be listed and read
// back byte for byte through both processes) and one name (the upload
// acknowledged with the highest revision must be what both processes serve;
// two uploads acknowledged at the same revision generation mean one was
// lost silently).
func TestClusterAttachments(t *testing.T) {
	d := clusterStart(t)
	tok, acct := d.customer(t, 0, "Uploader")
	id := d.srv[1].createRequest(t, tok, acct, "attachments", "+16175550199")
	base := "/v2/accounts/" + acct + "/port_requests/" + id + "/attachments"
	body := func(tag string) []byte {
		return append(append([]byte{}, minimalPDF...), []byte("% "+tag+"\n")...)
	}
	readBack := func(p int, name string) []byte {
		return d.srv[p].do(t, http.MethodGet, base+"/"+name, tok, nil, "Accept", "application/pdf").expect(t, http.StatusOK).Raw
	}

	// Different names.
	const n = 8
	answers := clusterRace(n, func(i int) *response {
		return d.srv[i%2].do(t, http.MethodPut, fmt.Sprintf("%s?filename=doc%d", base, i), tok, body(fmt.Sprintf("doc%d", i)), "Content-Type", "application/pdf")
	})
	acked := map[string][]byte{}
	lost := map[string]bool{}
	var conflicted int
	for i, r := range answers {
		switch r.Status {
		case http.StatusCreated:
			acked[fmt.Sprintf("doc%d.pdf", i)] = body(fmt.Sprintf("doc%d", i))
		case http.StatusConflict:
			conflicted++
			t.Logf("upload doc%d through process %d: %s (the documented conflict)", i, i%2+1, clusterAnswer(r))
		default:
			t.Errorf("upload doc%d through process %d: %s, want 201 or 409", i, i%2+1, clusterAnswer(r))
		}
	}
	for p := range d.srv {
		listed := d.srv[p].do(t, http.MethodGet, base, tok, nil).expect(t, http.StatusOK).data()
		for name, want := range acked {
			if _, ok := listed[name]; !ok {
				lost[name] = true
				t.Errorf("upload %s was acknowledged (201) but process %d does not list it; listed: %v", name, p+1, slices.Sorted(maps.Keys(listed)))
				continue
			}
			if got := readBack(p, name); !bytes.Equal(got, want) {
				t.Errorf("%s read through process %d: %q, want %q", name, p+1, got, want)
			}
		}
	}
	docConflicts := d.docConflicts(t, "port_requests", id)

	// One name, several rounds; round 0 creates it with PUT, later rounds
	// alternate PUT and POST (replace).
	type ack struct {
		tag string
		rev string
	}
	const rounds, m = 3, 6
	var same []ack
	var sameLost int
	for round := 0; round < rounds; round++ {
		answers := clusterRace(m, func(i int) *response {
			tag := fmt.Sprintf("same round %d writer %d", round, i)
			if round > 0 && i%2 == 1 {
				return d.srv[i%2].do(t, http.MethodPost, base+"/same.pdf", tok, body(tag), "Content-Type", "application/pdf")
			}
			return d.srv[i%2].do(t, http.MethodPut, base+"?filename=same", tok, body(tag), "Content-Type", "application/pdf")
		})
		for i, r := range answers {
			tag := fmt.Sprintf("same round %d writer %d", round, i)
			switch r.Status {
			case http.StatusCreated, http.StatusOK:
				rev, _ := r.Body["revision"].(string)
				same = append(same, ack{tag, rev})
			case http.StatusConflict:
				conflicted++
				t.Logf("%s through process %d: %s (the documented conflict)", tag, i%2+1, clusterAnswer(r))
			default:
				t.Errorf("%s through process %d: %s, want 201/200 or 409", tag, i%2+1, clusterAnswer(r))
			}
		}
	}
	gen := func(rev string) int {
		g, _ := strconv.Atoi(strings.SplitN(rev, "-", 2)[0])
		return g
	}
	sort.Slice(same, func(i, j int) bool { return gen(same[i].rev) < gen(same[j].rev) })
	for i := 1; i < len(same); i++ {
		if gen(same[i].rev) == gen(same[i-1].rev) {
			sameLost++
			t.Errorf("uploads %q (revision %s) and %q (revision %s) were both acknowledged at revision generation %d: one of them was lost silently",
				same[i-1].tag, same[i-1].rev, same[i].tag, same[i].rev, gen(same[i].rev))
		}
	}
	if len(same) > 0 {
		last := same[len(same)-1]
		for p := range d.srv {
			if got := readBack(p, "same.pdf"); !bytes.Equal(got, body(last.tag)) {
				t.Errorf("same.pdf through process %d is %q, want the last acknowledged upload %q (revision %s)", p+1, got, body(last.tag), last.rev)
			}
		}
	}
	docConflicts += d.docConflicts(t, "port_requests", id)
	t.Logf("%d uploads with different names (%d acknowledged, %d lost) and %d rounds of %d to one name (%d acknowledged, %d at a duplicate revision generation); %d documented 409s; %d conflicting revision(s) of the request document",
		n, len(acked), len(lost), rounds, m, len(same), sameLost, conflicted, docConflicts)
}

// docConflicts reports the conflicting revisions CouchDB holds for a
// document, read on every node.
func (d *clusterDeployment) docConflicts(t *testing.T, db, id string) int {
	t.Helper()
	n := 0
	for i, node := range d.nodes {
		_, doc := clusterGetJSON(t, node, "/"+couchSegment(d.prefix+db)+"/"+couchSegment(id)+"?conflicts=true")
		if cs, _ := doc["_conflicts"].([]any); len(cs) > 0 {
			n += len(cs)
			t.Logf("%s/%s on %s: winning revision %v, conflicting revisions %v", db, id, d.names[i], doc["_rev"], cs)
		}
	}
	return n
}

// TestClusterCompleteRacingCancel has the port authority complete a
// pending or scheduled request through one process while canceling it
// through the other, many rounds. Afterwards the request must be either
// completed with its numbers in service for the account, or canceled with
// none of them in service; never both answers 200.
func TestClusterCompleteRacingCancel(t *testing.T) {
	d := clusterStart(t)
	tok, acct := d.customer(t, 0, "Completer")
	base := "/v2/accounts/" + acct + "/port_requests/"
	const rounds = 12
	deadline := time.Now().Add(35 * time.Second)
	outcomes := map[string]int{}
	var failures []string
	played, badRounds := 0, 0
	for round := 0; round < rounds && time.Now().Before(deadline); round++ {
		played++
		nums := []string{fmt.Sprintf("+1212555%02d01", round), fmt.Sprintf("+1212555%02d02", round)}
		id := d.srv[round%2].createRequest(t, tok, acct, fmt.Sprintf("round %d", round), nums...)
		d.srv[0].do(t, http.MethodPatch, base+id+"/submitted", tok, nil).expect(t, http.StatusOK)
		d.srv[1].do(t, http.MethodPatch, base+id+"/pending", d.mtok, nil).expect(t, http.StatusOK)
		from := "pending"
		if round%2 == 1 {
			d.srv[0].do(t, http.MethodPatch, base+id+"/scheduled", d.mtok, nil).expect(t, http.StatusOK)
			from = "scheduled"
		}
		completer, canceler := round%2, 1-round%2
		// The cancel starts 0 to 200 ms after the completion (which claims
		// and writes the numbers before the request), so that either wins.
		delay := time.Duration(round%6) * 40 * time.Millisecond
		answers := clusterRace(2, func(i int) *response {
			if i == 0 {
				return d.srv[completer].do(t, http.MethodPatch, base+id+"/completed", d.mtok, nil)
			}
			time.Sleep(delay)
			return d.srv[canceler].do(t, http.MethodPatch, base+id+"/canceled", d.mtok, nil)
		})
		complete, cancel := answers[0], answers[1]
		problems := len(failures)
		t.Logf("round %d: complete through process %d: %s; cancel through process %d, %v later: %s",
			round, completer+1, clusterAnswer(complete), canceler+1, delay, clusterAnswer(cancel))
		what := fmt.Sprintf("round %d (%s, complete through process %d, cancel through process %d %v later; complete answered %d, cancel answered %d)",
			round, from, completer+1, canceler+1, delay, complete.Status, cancel.Status)
		for _, r := range answers {
			if r.Status != http.StatusOK && r.Status != http.StatusConflict &&
				!(r.Status == http.StatusInternalServerError && strings.Contains(string(r.Raw), "Cannot move to new state from current state")) {
				failures = append(failures, what+": unexpected answer "+clusterAnswer(r))
			}
		}
		if complete.Status == http.StatusOK && cancel.Status == http.StatusOK {
			failures = append(failures, what+": both were acknowledged")
		}

		// The request's state through both processes (quorum reads; wait
		// a moment for conflicting revisions to reach every copy).
		var states [2]string
		settle := time.Now().Add(clusterSettle)
		for {
			for p := range d.srv {
				r := d.srv[p].do(t, http.MethodGet, base+id, tok, nil).expect(t, http.StatusOK)
				states[p], _ = r.data()["port_state"].(string)
			}
			if states[0] == states[1] || time.Now().After(settle) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if states[0] != states[1] {
			failures = append(failures, fmt.Sprintf("%s: the request is %s through process 1 and %s through process 2", what, states[0], states[1]))
		}
		state := states[0]
		outcomes[state]++
		if conflicts := d.docConflicts(t, "port_requests", id); conflicts > 0 {
			failures = append(failures, fmt.Sprintf("%s: the request document has %d conflicting revision(s) (final state %s)", what, conflicts, state))
		}

		// Its numbers in service: the API through both processes (a view
		// finds the candidates, so wait for completed numbers to show) and
		// the number documents themselves.
		for p := range d.srv {
			want := 0
			if state == "completed" {
				want = len(nums)
			}
			inService := d.inService(t, p, tok, acct, id, nums, want)
			switch {
			case state == "completed" && len(inService) != len(nums):
				failures = append(failures, fmt.Sprintf("%s: completed, but through process %d only %v of %v are in service", what, p+1, inService, nums))
			case state == "canceled" && len(inService) > 0:
				failures = append(failures, fmt.Sprintf("%s: canceled, but through process %d %v are in service for the account", what, p+1, inService))
			case state != "completed" && state != "canceled":
				failures = append(failures, fmt.Sprintf("%s: ended %s", what, state))
			}
		}
		var docs []string
		for _, num := range nums {
			status, doc := clusterGetJSON(t, d.nodes[round%len(d.nodes)], "/"+couchSegment(d.prefix+"numbers/"+num[:5])+"/"+couchSegment(num))
			if status == http.StatusOK && doc["pvt_state"] == "in_service" {
				docs = append(docs, num)
			}
		}
		if (state == "canceled" && len(docs) > 0) || (state == "completed" && len(docs) != len(nums)) {
			failures = append(failures, fmt.Sprintf("%s: %s, and the number documents in CouchDB put %v in service", what, state, docs))
		}
		if len(failures) > problems {
			badRounds++
		}
	}
	t.Logf("%d rounds of complete racing cancel through 2 processes on nodes %s and %s: final states %v, %d round(s) broke the rule",
		played, d.names[0], d.names[1], outcomes, badRounds)
	if len(failures) > 0 {
		t.Errorf("%d of %d rounds broke the rule (%d problems):\n  %s", badRounds, played, len(failures), strings.Join(failures, "\n  "))
	}
}

// inService returns which of nums GET /v2/accounts/{acct}/phone_numbers
// through process p shows in service for request id, reading again until
// want of them show or clusterSettle passes.
func (d *clusterDeployment) inService(t *testing.T, p int, token, acct, id string, nums []string, want int) []string {
	t.Helper()
	deadline := time.Now().Add(clusterSettle)
	for {
		r := d.srv[p].do(t, http.MethodGet, "/v2/accounts/"+acct+"/phone_numbers", token, nil).expect(t, http.StatusOK)
		listed, _ := r.data()["numbers"].(map[string]any)
		var got []string
		for _, num := range nums {
			if m, _ := listed[num].(map[string]any); m["state"] == "in_service" && m["port_id"] == id {
				got = append(got, num)
			}
		}
		if len(got) >= want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}
