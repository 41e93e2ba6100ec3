package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/api"
	"github.com/portreqd/portreqd/pkg/lnp"
)

// tree43 is a master, a reseller that is the port authority, and its
// customer, each with a token.
type tree43 struct {
	f                        *fixture
	reseller, customer       string
	resellerTok, customerTok string
}

func newTree43(t *testing.T, opts ...func(*api.Config)) *tree43 {
	t.Helper()
	f := newFixture(t, opts...)
	tr := &tree43{f: f}
	tr.reseller, tr.resellerTok = tr.account(t, f.token, f.masterID, `{"name":"Reseller","port_authority":true}`)
	tr.customer, tr.customerTok = tr.account(t, tr.resellerTok, tr.reseller, `{"name":"Customer"}`)
	return tr
}

func (tr *tree43) account(t *testing.T, token, parent, body string) (string, string) {
	t.Helper()
	env := tr.call(t, "PUT", "/v2/accounts/"+parent, token, `{"data":`+body+`}`, 201)
	id, _ := env["data"].(map[string]any)["id"].(string)
	tok, err := tr.f.tokens.Issue(id)
	if err != nil {
		t.Fatal(err)
	}
	return id, tok
}

// call sends a request and wants status; it returns the envelope.
func (tr *tree43) call(t *testing.T, method, path, token, body string, status int) map[string]any {
	t.Helper()
	resp, raw := tr.f.do(t, method, path, token, body, nil)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, raw, status)
	}
	var env map[string]any
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatalf("%s %s: %s: %v", method, path, raw, err)
	}
	return env
}

// request creates a request of the customer with number and moves it
// through states (customer submits, the reseller does the rest).
func (tr *tree43) request(t *testing.T, name, number string, states ...string) string {
	t.Helper()
	base := "/v2/accounts/" + tr.customer + "/port_requests"
	env := tr.call(t, "PUT", base, tr.customerTok, `{"data":{"name":"`+name+`","numbers":{"`+number+`":{}}}}`, 201)
	id := env["data"].(map[string]any)["id"].(string)
	for _, st := range states {
		tok := tr.resellerTok
		if st == "submitted" {
			tok = tr.customerTok
		}
		tr.call(t, "PATCH", base+"/"+id+"/"+st, tok, `{"data":{"reason":"moved to `+st+`"}}`, 200)
	}
	return id
}

// listed returns the ids of a grouped listing's rows, sorted.
func listed(t *testing.T, env map[string]any) []string {
	t.Helper()
	var ids []string
	for _, g := range env["data"].([]any) {
		for _, r := range g.(map[string]any)["port_requests"].([]any) {
			ids = append(ids, r.(map[string]any)["id"].(string))
		}
	}
	slices.Sort(ids)
	if ids == nil {
		ids = []string{}
	}
	return ids
}

func sorted(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// by_types picks states as Kazoo 4.3 groups them, on the account's,
// the descendants' listing and the authority's queue (GET
// /v2/port_requests), which only a port authority may read.
func TestByTypesAndAgentQueue(t *testing.T) {
	tr := newTree43(t)
	draft := tr.request(t, "draft", "+12025550301")
	submitted := tr.request(t, "submitted", "+12025550302", "submitted")
	pending := tr.request(t, "pending", "+12025550303", "submitted", "pending")
	rejected := tr.request(t, "rejected", "+12025550304", "submitted", "rejected")
	completed := tr.request(t, "completed", "+12025550305", "submitted", "pending", "completed")
	canceled := tr.request(t, "canceled", "+12025550306", "submitted", "canceled")

	own := "/v2/accounts/" + tr.customer + "/port_requests?paginate=false&by_types="
	desc := "/v2/accounts/" + tr.reseller + "/descendants/port_requests?by_types="
	cases := []struct {
		types string
		want  []string
	}{
		{"suspended", sorted(draft, rejected)},
		{"progressing", sorted(submitted, pending)},
		{"completed", sorted(completed, canceled)},
		{"active", sorted(draft, submitted, pending, rejected)},
		{"all", sorted(draft, submitted, pending, rejected, completed, canceled)},
		{"submitted,pending", sorted(submitted, pending)},
		{" canceled , rejected", sorted(rejected, canceled)},
	}
	for _, c := range cases {
		t.Run(c.types, func(t *testing.T) {
			q := url.QueryEscape(c.types)
			if diff := cmp.Diff(c.want, listed(t, tr.call(t, "GET", own+q, tr.customerTok, "", 200))); diff != "" {
				t.Errorf("account listing (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.want, listed(t, tr.call(t, "GET", desc+q, tr.resellerTok, "", 200))); diff != "" {
				t.Errorf("descendants listing (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(c.want, listed(t, tr.call(t, "GET", "/v2/port_requests?by_types="+q, tr.resellerTok, "", 200))); diff != "" {
				t.Errorf("the authority's queue (-want +got):\n%s", diff)
			}
		})
	}
	// Without by_types the queue is the active group.
	if diff := cmp.Diff(sorted(draft, submitted, pending, rejected), listed(t, tr.call(t, "GET", "/v2/port_requests", tr.resellerTok, "", 200))); diff != "" {
		t.Errorf("queue without by_types (-want +got):\n%s", diff)
	}
	// The master is not these requests' authority: its queue is empty.
	if got := listed(t, tr.call(t, "GET", "/v2/port_requests?by_types=all", tr.f.token, "", 200)); len(got) != 0 {
		t.Errorf("the master's queue: %v, want none", got)
	}
	env := tr.call(t, "GET", "/v2/port_requests", tr.customerTok, "", 403)
	if env["status"] != "error" {
		t.Errorf("customer's queue: %v", env)
	}
	env = tr.call(t, "GET", own+"submitted,bogus", tr.customerTok, "", 400)
	if !strings.Contains(mustJSON(t, env), "by_types contained invalid values: bogus") {
		t.Errorf("bad by_types: %s", mustJSON(t, env))
	}
	// completed and canceled are windowed: a window that ended before
	// they were modified leaves them out, the other states stay.
	if got := listed(t, tr.call(t, "GET", own+"all&modified_from=63000000000&modified_to=63000001000", tr.customerTok, "", 200)); !slices.Equal(got, sorted(draft, submitted, pending, rejected)) {
		t.Errorf("by_types=all in an old window: %v", got)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The timeline merges transitions and the comments the reader may see,
// oldest first; last_submitted names each submitted request's latest
// submission with a submitter Monster UI can show.
func TestTimelineAndLastSubmitted(t *testing.T) {
	tr := newTree43(t)
	id := tr.request(t, "timeline", "+12025550311", "submitted")
	one := "/v2/accounts/" + tr.customer + "/port_requests/" + id
	tr.call(t, "PUT", one+"/comments", tr.customerTok, `{"data":{"comments":[{"content":"please hurry"}]}}`, 200)
	tr.call(t, "PUT", one+"/comments", tr.resellerTok, `{"data":{"comments":[{"content":"internal note","is_private":true}]}}`, 200)

	type entry struct {
		kind, what string
	}
	timeline := func(token string) []entry {
		t.Helper()
		var out []entry
		var last float64
		for _, e := range tr.call(t, "GET", one+"/timeline", token, "", 200)["data"].([]any) {
			m := e.(map[string]any)
			ts, _ := m["timestamp"].(float64)
			if ts < last {
				t.Errorf("timeline not oldest first: %v after %v", ts, last)
			}
			last = ts
			if m["type"] == "transition" {
				out = append(out, entry{"transition", m["transition"].(map[string]any)["new"].(string)})
				continue
			}
			if _, ok := m["is_private"].(bool); !ok {
				t.Errorf("comment without is_private: %v", m)
			}
			out = append(out, entry{"comment", m["content"].(string)})
		}
		return out
	}
	customer := timeline(tr.customerTok)
	want := []entry{{"transition", "unconfirmed"}, {"transition", "submitted"}, {"comment", "please hurry"}}
	// Entries of one second: comments first.
	byKind := func(es []entry) map[entry]int {
		m := map[entry]int{}
		for _, e := range es {
			m[e]++
		}
		return m
	}
	if diff := cmp.Diff(byKind(want), byKind(customer)); diff != "" {
		t.Errorf("customer's timeline (-want +got):\n%s", diff)
	}
	authority := timeline(tr.resellerTok)
	if !slices.Contains(authority, entry{"comment", "internal note"}) || len(authority) != 4 {
		t.Errorf("authority's timeline: %v, want the private note too", authority)
	}

	list := tr.call(t, "GET", "/v2/accounts/"+tr.customer+"/port_requests/last_submitted?paginate=false", tr.customerTok, "", 200)["data"].([]any)
	if len(list) != 1 {
		t.Fatalf("last_submitted: %v, want one", list)
	}
	got := list[0].(map[string]any)
	tran := got["transition"].(map[string]any)
	user, _ := tran["authorization"].(map[string]any)["user"].(map[string]any)
	if got["id"] != id || tran["transition"].(map[string]any)["new"] != "submitted" || user["first_name"] != "Customer" {
		t.Errorf("last_submitted entry: %v", got)
	}
	// by_types=last_submitted is the same answer.
	if again := tr.call(t, "GET", "/v2/accounts/"+tr.customer+"/port_requests?by_types=last_submitted", tr.customerTok, "", 200)["data"].([]any); len(again) != 1 {
		t.Errorf("by_types=last_submitted: %v", again)
	}
	tr.call(t, "PATCH", one+"/pending", tr.resellerTok, "", 200)
	if list := tr.call(t, "GET", "/v2/accounts/"+tr.customer+"/port_requests/last_submitted", tr.customerTok, "", 200)["data"].([]any); len(list) != 0 {
		t.Errorf("last_submitted after pending: %v, want none", list)
	}
	// Another tenant reads neither.
	other, otherTok := tr.account(t, tr.f.token, tr.f.masterID, `{"name":"Other"}`)
	_ = other
	tr.call(t, "GET", one+"/timeline", otherTok, "", 403)
	tr.call(t, "GET", "/v2/accounts/"+tr.customer+"/port_requests/last_submitted", otherTok, "", 403)
}

// Comments are stamped with their writer; only the port authority writes
// private or action-required ones; a comment is deleted by its writer or
// the authority, not by another account that can read the request.
func TestComments43(t *testing.T) {
	tr := newTree43(t)
	id := tr.request(t, "comments", "+12025550321", "submitted")
	one := "/v2/accounts/" + tr.customer + "/port_requests/" + id
	env := tr.call(t, "PUT", one+"/comments", tr.customerTok, `{"data":{"comments":[{"content":"hello","account_id":"`+tr.reseller+`"}]}}`, 200)
	c := env["data"].(map[string]any)["comments"].([]any)[0].(map[string]any)
	if c["account_id"] != tr.customer || c["author"] != "Customer" || c["is_private"] != false || c["action_required"] != false || c["timestamp"] == nil {
		t.Errorf("stamped comment: %v", c)
	}
	tr.call(t, "PUT", one+"/comments", tr.customerTok, `{"data":{"comments":[{"content":"do it","action_required":true}]}}`, 400)
	tr.call(t, "PUT", one+"/comments", tr.resellerTok, `{"data":{"comments":[{"content":"need a CSR","action_required":true}]}}`, 200)
	listing := tr.call(t, "GET", one+"/comments", tr.customerTok, "", 200)["data"].(map[string]any)["comments"].([]any)
	if len(listing) != 2 {
		t.Fatalf("comments: %v", listing)
	}
	// The customer may not delete the authority's comment (index 1), the
	// authority may delete the customer's (index 0).
	tr.call(t, "DELETE", one+"/comments/1", tr.customerTok, "", 403)
	tr.call(t, "DELETE", one+"/comments/0", tr.resellerTok, "", 200)
	left := tr.call(t, "GET", one+"/comments", tr.customerTok, "", 200)["data"].(map[string]any)["comments"].([]any)
	if len(left) != 1 || left[0].(map[string]any)["content"] != "need a CSR" {
		t.Errorf("after deletes: %v", left)
	}
}

// lnp_lookup answers from the operator's table: the losing carrier and
// who can take each number; an unknown number is unknown, never portable;
// a number that is not North American is refused with its reason.
func TestLNPLookup(t *testing.T) {
	table, err := lnp.ReadTable(strings.NewReader("prefix,losing_carrier,carriers,documents\n202555,Example Telco,Us Networks;Them Wireless,loa;bill\n"))
	if err != nil {
		t.Fatal(err)
	}
	tr := newTree43(t, func(c *api.Config) { c.LNP = []lnp.Source{table} })
	path := "/v2/accounts/" + tr.customer + "/port_requests/lnp_lookup"
	env := tr.call(t, "POST", path, tr.customerTok, `{"data":{"numbers":["+12025550199","(312) 555-0100"]}}`, 200)
	nums := env["data"].(map[string]any)["numbers"].(map[string]any)
	known := nums["+12025550199"].(map[string]any)
	if diff := cmp.Diff(map[string]any{
		"status": "known", "losing_carrier": map[string]any{"name": "Example Telco"},
		"carriers":  []any{map[string]any{"name": "Us Networks", "portability": true}, map[string]any{"name": "Them Wireless", "portability": true}},
		"documents": []any{"loa", "bill"}, "source": "table",
	}, known); diff != "" {
		t.Errorf("known number (-want +got):\n%s", diff)
	}
	unknown := nums["(312) 555-0100"].(map[string]any)
	if unknown["status"] != "unknown" || unknown["losing_carrier"] != nil || len(unknown["carriers"].([]any)) != 0 {
		t.Errorf("unknown number: %v", unknown)
	}
	env = tr.call(t, "POST", path, tr.customerTok, `{"data":{"numbers":["+12025550199","+1 911 555 0100","+442079460000"]}}`, 400)
	data := mustJSON(t, env["data"])
	for _, want := range []string{"+1 911 555 0100", "service code", "+442079460000", "not a North American"} {
		if !strings.Contains(data, want) {
			t.Errorf("refusal lacks %q: %s", want, data)
		}
	}
	tr.call(t, "POST", path, tr.customerTok, `{"data":{}}`, 400)
	other, otherTok := tr.account(t, tr.f.token, tr.f.masterID, `{"name":"Other"}`)
	_ = other
	tr.call(t, "POST", path, otherTok, `{"data":{"numbers":["+12025550199"]}}`, 403)
}

// The LOA is served to Accept: */* (curl, browsers) as Kazoo's negotiation
// serves it, and a token may come as ?auth_token= (download links).
func TestLOANegotiationAndQueryToken(t *testing.T) {
	tr := newTree43(t)
	id := tr.request(t, "loa", "+12025550331")
	loa := "/v2/accounts/" + tr.customer + "/port_requests/" + id + "/loa"
	for _, c := range []struct {
		accept string
		status int
	}{{"*/*", 200}, {"", 200}, {"application/*", 200}, {"application/x-pdf", 200}, {"text/html,*/*;q=0.8", 200}, {"application/json", 406}} {
		resp, raw := tr.f.do(t, "GET", loa, tr.customerTok, "", map[string]string{"Accept": c.accept})
		if resp.StatusCode != c.status || (c.status == 200 && !strings.HasPrefix(string(raw), "%PDF-")) {
			t.Errorf("Accept %q: %d %.40q, want %d", c.accept, resp.StatusCode, raw, c.status)
		}
	}
	resp, raw := tr.f.do(t, "GET", loa+"?auth_token="+url.QueryEscape(tr.customerTok), "", "", map[string]string{"Accept": "*/*"})
	if resp.StatusCode != 200 || !strings.HasPrefix(string(raw), "%PDF-") {
		t.Errorf("LOA with ?auth_token: %d %.60q", resp.StatusCode, raw)
	}
	if resp, _ := tr.f.do(t, "GET", "/v2/accounts/"+tr.customer+"?auth_token=forged", "", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged ?auth_token: %d, want 401", resp.StatusCode)
	}
}

// GET /v2/accounts/{A} says what Monster UI chooses its tabs by.
func TestAccountResellerMembers(t *testing.T) {
	tr := newTree43(t)
	for _, c := range []struct {
		id, token  string
		reseller   bool
		resellerID string
	}{{tr.reseller, tr.resellerTok, true, tr.f.masterID}, {tr.customer, tr.customerTok, false, tr.reseller}} {
		d := tr.call(t, "GET", "/v2/accounts/"+c.id, c.token, "", 200)["data"].(map[string]any)
		if d["is_reseller"] != c.reseller || d["reseller_id"] != c.resellerID || d["superduper_admin"] != false || d["enabled"] != true || d["id"] != c.id {
			t.Errorf("account %s: %v", c.id, d)
		}
	}
	d := tr.call(t, "GET", "/v2/accounts/"+tr.f.masterID, tr.f.token, "", 200)["data"].(map[string]any)
	if d["is_reseller"] != true || d["superduper_admin"] != true {
		t.Errorf("master: %v", d)
	}
}
