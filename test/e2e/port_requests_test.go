package e2e

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// minimalPDF is a tiny valid-looking PDF body.
var minimalPDF = []byte("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")

func reqBody(name string, numbers ...string) map[string]any {
	nums := map[string]any{}
	for _, n := range numbers {
		nums[n] = map[string]any{}
	}
	return map[string]any{"data": map[string]any{"name": name, "numbers": nums}}
}

func (s *server) createRequest(t *testing.T, token, acct, name string, numbers ...string) string {
	t.Helper()
	r := s.do(t, "PUT", "/v2/accounts/"+acct+"/port_requests", token, reqBody(name, numbers...)).expect(t, http.StatusCreated)
	id, _ := r.data()["id"].(string)
	if id == "" {
		t.Fatalf("no id: %s", r.Raw)
	}
	return id
}

func numberError(t *testing.T, r *response, asSent string) string {
	t.Helper()
	if r.Status != 500 || r.Body["message"] != "invalid request" {
		t.Fatalf("want the 500 number error, got %d %s", r.Status, r.Raw)
	}
	d, _ := r.data()[asSent].(map[string]any)
	typ, _ := d["type"].(map[string]any)
	if typ["cause"] != asSent {
		t.Fatalf("error not keyed by %q: %s", asSent, r.Raw)
	}
	msg, _ := typ["message"].(string)
	return msg
}

// customer makes a sub-account of the master and logs in as it.
func (s *server) customer(t *testing.T, master, masterID, name string) (token, id string) {
	t.Helper()
	id = s.createAccount(t, master, masterID, name, nil)
	key := s.do(t, "GET", "/v2/accounts/"+id+"/api_key", master, nil).expect(t, 200).data()["api_key"].(string)
	token, _ = s.login(t, key)
	return token, id
}

// TestSeedWalk replays the seed document's life cycle: create, edit,
// attach, submit (402 then accepted), pending, scheduled, completed, numbers
// in service, and a new request for the same number refused.
func TestSeedWalk(t *testing.T) { forEachStore(t, testSeedWalk) }

func testSeedWalk(t *testing.T, e *env) {
	s := e.start(t, "--port-activation-charge", "10")
	mtok, master := s.login(t, e.apiKey)
	tok, acct := s.customer(t, mtok, master, "Customer")
	base := "/v2/accounts/" + acct + "/port_requests"

	created := s.do(t, "PUT", base, tok, reqBody("Porting 202.555.9000", "2025559000")).expect(t, 201)
	id := created.data()["id"].(string)
	if created.data()["port_state"] != "unconfirmed" {
		t.Fatalf("create: %s", created.Raw)
	}
	if _, ok := created.data()["numbers"].(map[string]any)["+12025559000"]; !ok {
		t.Errorf("number not normalized: %s", created.Raw)
	}
	for _, leak := range []string{"pvt_", "_rev", "_attachments"} {
		if strings.Contains(string(created.Raw), `"`+leak) {
			t.Errorf("create leaks %s: %s", leak, created.Raw)
		}
	}
	ro, _ := created.data()["_read_only"].(map[string]any)
	if ro["account_id"] != acct || ro["account_name"] != "Customer" || ro["port_authority"] != master {
		t.Errorf("_read_only: %v", ro)
	}

	edited := s.do(t, "POST", base+"/"+id, tok, map[string]any{"data": map[string]any{
		"name": "Porting 202.555.9000", "numbers": map[string]any{"+12025559000": map[string]any{"state": "NY"}},
		"bill": map[string]any{"name": "John Doe", "locality": "San Francisco"}, "carrier": "PACIFIC BELL",
		"id": "ignored", "port_state": "completed", "ui_metadata": map[string]any{"origin": "e2e"},
	}}).expect(t, 200)
	if edited.data()["port_state"] != "unconfirmed" || edited.data()["ui_metadata"] == nil || edited.data()["id"] != id {
		t.Errorf("edit: %s", edited.Raw)
	}

	s.do(t, "PUT", base+"/"+id+"/attachments?filename=file", tok, minimalPDF, "Content-Type", "application/pdf").expect(t, 201)
	att := s.do(t, "GET", base+"/"+id+"/attachments", tok, nil).expect(t, 200)
	if up, _ := att.data()["file.pdf"].(map[string]any); up["content_type"] != "application/pdf" || up["length"] != float64(len(minimalPDF)) {
		t.Errorf("attachments: %s", att.Raw)
	}
	pdf := s.do(t, "GET", base+"/"+id+"/attachments/file.pdf", tok, nil, "Accept", "application/pdf").expect(t, 200)
	if !bytes.Equal(pdf.Raw, minimalPDF) {
		t.Errorf("PDF round trip: %q", pdf.Raw)
	}

	charges := s.do(t, "PATCH", base+"/"+id+"/submitted", tok, nil).expect(t, 402)
	if charges.data()["activation_charges"] != 10.0 || charges.Body["message"] != "accept charges" {
		t.Errorf("402: %s", charges.Raw)
	}
	if st := s.do(t, "GET", base+"/"+id, tok, nil).data()["port_state"]; st != "unconfirmed" {
		t.Fatalf("402 changed the state to %v", st)
	}
	s.do(t, "PATCH", base+"/"+id+"/submitted?accept_charges=true", tok, nil).expect(t, 200)

	// Moving on is the port authority's (the master's) business.
	s.do(t, "PATCH", base+"/"+id+"/pending", tok, nil).expect(t, 403)
	illegal := s.do(t, "PATCH", base+"/"+id+"/completed", mtok, nil)
	_ = illegal // submitted → completed is illegal: the seed's error shape
	if illegal.Status != 500 || !strings.Contains(string(illegal.Raw), "Cannot move to new state from current state") {
		t.Errorf("illegal transition: %d %s", illegal.Status, illegal.Raw)
	}
	s.do(t, "PATCH", base+"/"+id+"/pending", mtok, map[string]any{"data": map[string]any{"reason": "sent to carrier"}}).expect(t, 200)
	sched := s.do(t, "PATCH", base+"/"+id+"/scheduled", mtok, map[string]any{"data": map[string]any{
		"schedule_on": map[string]any{"date_time": "2026-12-01 09:00", "timezone": "America/New_York"}}}).expect(t, 200)
	// 2026-12-01 14:00 UTC in Gregorian seconds.
	if sched.data()["scheduled_date"] != float64(1796133600+62167219200) {
		t.Errorf("scheduled_date = %v", sched.data()["scheduled_date"])
	}
	s.do(t, "DELETE", base+"/"+id, tok, nil).expect(t, 405)
	done := s.do(t, "PATCH", base+"/"+id+"/completed", mtok, nil).expect(t, 200)
	if done.data()["port_state"] != "completed" || done.data()["numbers"] == nil {
		t.Errorf("completed: %s", done.Raw)
	}

	if e.kind == storeCouch {
		// Kazoo's shapes in Kazoo's databases: the number and the debit.
		num := e.getRaw(t, "numbers/+1202", "+12025559000")
		if num["pvt_state"] != "in_service" || num["pvt_assigned_to"] != acct || num["pvt_ported_in"] != true || num["port_id"] != id {
			t.Errorf("number document: %v", num)
		}
		updated, _ := done.data()["updated"].(float64)
		month := time.Unix(int64(updated)-62167219200, 0).UTC().Format("200601")
		debit := e.getRaw(t, "account/"+acct[:2]+"/"+acct[2:4]+"/"+acct[4:]+"-"+month, "port_request-"+id)
		if debit["pvt_type"] != "debit" || debit["pvt_amount"] != float64(100000) || debit["pvt_account_id"] != acct {
			t.Errorf("debit: %v", debit)
		}
	}

	nums := s.do(t, "GET", "/v2/accounts/"+acct+"/phone_numbers", tok, nil).expect(t, 200)
	if n, _ := nums.data()["numbers"].(map[string]any)["+12025559000"].(map[string]any); n["state"] != "in_service" || n["port_id"] != id {
		t.Errorf("phone_numbers: %s", nums.Raw)
	}
	again := s.do(t, "PUT", base, tok, reqBody("again", "+12025559000"))
	if msg := numberError(t, again, "+12025559000"); msg != "Number exists on the system already" {
		t.Errorf("message %q", msg)
	}
	completed := s.do(t, "GET", base+"/completed", tok, nil).expect(t, 200)
	if g := completed.list(); len(g) != 1 || completed.Body["page_size"] != 1.0 {
		t.Errorf("completed listing: %s", completed.Raw)
	}
}

// TestNumberRules checks the three number messages, keyed as sent.
func TestNumberRules(t *testing.T) { forEachStore(t, testNumberRules) }

func testNumberRules(t *testing.T, e *env) {
	s := e.start(t)
	mtok, master := s.login(t, e.apiKey)
	tokA, a := s.customer(t, mtok, master, "A")
	tokB, b := s.customer(t, mtok, master, "B")

	first := s.createRequest(t, tokA, a, "first", "+14155550100")
	// Drafts claim nothing: a second draft with the number is fine.
	second := s.createRequest(t, tokA, a, "second", "4155550100")
	s.do(t, "PATCH", "/v2/accounts/"+a+"/port_requests/"+first+"/submitted", tokA, nil).expect(t, 200)

	r := s.do(t, "PATCH", "/v2/accounts/"+a+"/port_requests/"+second+"/submitted", tokA, nil)
	if msg := numberError(t, r, "+14155550100"); msg != "Number is on a port request already: "+first {
		t.Errorf("same account: %q", msg)
	}
	r = s.do(t, "PUT", "/v2/accounts/"+b+"/port_requests", tokB, reqBody("b", "415-555-0100"))
	if msg := numberError(t, r, "415-555-0100"); msg != "Number is being ported for a different account" {
		t.Errorf("other account: %q", msg)
	}
	bad := s.do(t, "PUT", "/v2/accounts/"+b+"/port_requests", tokB, reqBody("b", "12345")).expect(t, 400)
	if bad.Body["message"] != "validation error" {
		t.Errorf("bad number: %s", bad.Raw)
	}
	// Canceling frees the number.
	s.do(t, "PATCH", "/v2/accounts/"+a+"/port_requests/"+first+"/canceled", mtok, nil).expect(t, 200)
	s.do(t, "PATCH", "/v2/accounts/"+a+"/port_requests/"+second+"/submitted", tokA, nil).expect(t, 200)
}

// TestTenancy checks a sibling cannot see or touch another's request.
func TestTenancy(t *testing.T) { forEachStore(t, testTenancy) }

func testTenancy(t *testing.T, e *env) {
	s := e.start(t)
	mtok, master := s.login(t, e.apiKey)
	tokA, a := s.customer(t, mtok, master, "A")
	tokB, b := s.customer(t, mtok, master, "B")
	id := s.createRequest(t, tokA, a, "mine", "+442071234567")

	// Through B's own URL: 404, never the document.
	for _, m := range []string{"GET", "POST", "DELETE"} {
		r := s.do(t, m, "/v2/accounts/"+b+"/port_requests/"+id, tokB, reqBody("x", "+442071234568")).expect(t, 404)
		if strings.Contains(string(r.Raw), "mine") || r.Body["message"] != "bad identifier" {
			t.Errorf("%s leaks: %s", m, r.Raw)
		}
	}
	s.do(t, "PATCH", "/v2/accounts/"+b+"/port_requests/"+id+"/submitted", tokB, nil).expect(t, 404)
	s.do(t, "GET", "/v2/accounts/"+b+"/port_requests/"+id+"/attachments", tokB, nil).expect(t, 404)
	// Through A's URL: 403.
	s.do(t, "GET", "/v2/accounts/"+a+"/port_requests/"+id, tokB, nil).expect(t, 403)
	// Listings of B do not show it; by_number neither.
	if l := s.do(t, "GET", "/v2/accounts/"+b+"/port_requests", tokB, nil).expect(t, 200).list(); len(l) != 0 {
		t.Errorf("B lists A's request: %v", l)
	}
	if l := s.do(t, "GET", "/v2/accounts/"+b+"/descendants/port_requests?by_number=%2B442071234567", tokB, nil).expect(t, 200).list(); len(l) != 0 {
		t.Errorf("B finds A's request by number: %v", l)
	}
	// The master sees it through A, and in its descendants listing.
	s.do(t, "GET", "/v2/accounts/"+a+"/port_requests/"+id, mtok, nil).expect(t, 200)
	desc := s.do(t, "GET", "/v2/accounts/"+master+"/descendants/port_requests?by_number=442071234567", mtok, nil).expect(t, 200)
	if l := desc.list(); len(l) != 1 {
		t.Errorf("master by_number: %s", desc.Raw)
	}
	grouped := s.do(t, "GET", "/v2/accounts/"+master+"/descendants/port_requests/unconfirmed", mtok, nil).expect(t, 200)
	if g := grouped.list(); len(g) != 1 || g[0].(map[string]any)["account_id"] != a || g[0].(map[string]any)["account_name"] != "A" {
		t.Errorf("descendants listing: %s", grouped.Raw)
	}
}

// TestConcurrentSubmits races 20 submits of requests sharing one number,
// across two portreqd processes on one CouchDB (one process on the embedded
// store, which one process owns): exactly one wins.
func TestConcurrentSubmits(t *testing.T) { forEachStore(t, testConcurrentSubmits) }

func testConcurrentSubmits(t *testing.T, e *env) {
	s1 := e.start(t)
	s2 := s1
	if e.kind == storeCouch {
		s2 = e.start(t) // two replicas share one CouchDB
	}
	mtok, master := s1.login(t, e.apiKey)
	tok, acct := s1.customer(t, mtok, master, "Racer")
	const n = 20
	ids := make([]string, n)
	for i := range ids {
		ids[i] = s1.createRequest(t, tok, acct, fmt.Sprintf("race %d", i), "+33142685300", fmt.Sprintf("+3314268%04d", i))
	}
	var wins, numberErrs atomic.Int32
	var wg sync.WaitGroup
	for i, id := range ids {
		srv := s1
		if i%2 == 1 {
			srv = s2
		}
		wg.Add(1)
		go func(srv *server, id string) {
			defer wg.Done()
			r := srv.do(t, "PATCH", "/v2/accounts/"+acct+"/port_requests/"+id+"/submitted", tok, nil)
			switch r.Status {
			case 200:
				wins.Add(1)
			case 500:
				numberErrs.Add(1)
			default:
				t.Errorf("unexpected %d %s", r.Status, r.Raw)
			}
		}(srv, id)
	}
	wg.Wait()
	if wins.Load() != 1 || numberErrs.Load() != n-1 {
		t.Fatalf("wins=%d number errors=%d, want 1 and %d", wins.Load(), numberErrs.Load(), n-1)
	}
	sub := s2.do(t, "GET", "/v2/accounts/"+acct+"/port_requests/submitted", tok, nil).expect(t, 200)
	if g := sub.list(); len(g) != 1 || len(g[0].(map[string]any)["port_requests"].([]any)) != 1 {
		t.Errorf("submitted listing: %s", sub.Raw)
	}
}

// TestPagination pages through more completed... canceled requests than a
// page holds, with many sharing one modified second.
func TestPagination(t *testing.T) { forEachStore(t, testPagination) }

func testPagination(t *testing.T, e *env) {
	s := e.start(t)
	mtok, master := s.login(t, e.apiKey)
	tok, acct := s.customer(t, mtok, master, "Pager")
	const total = 23
	want := map[string]bool{}
	for i := 0; i < total; i++ {
		id := s.createRequest(t, tok, acct, fmt.Sprintf("p%d", i), fmt.Sprintf("+4930123%05d", i))
		s.do(t, "PATCH", "/v2/accounts/"+acct+"/port_requests/"+id+"/canceled", tok, nil).expect(t, 200)
		want[id] = true
	}
	seen := map[string]bool{}
	start := ""
	for page := 0; page < 10; page++ {
		path := "/v2/accounts/" + acct + "/port_requests/canceled?page_size=5&_=123"
		if start != "" {
			path += "&start_key=" + url.QueryEscape(start)
		}
		r := s.do(t, "GET", path, tok, nil).expect(t, 200)
		for _, g := range r.list() {
			for _, pr := range g.(map[string]any)["port_requests"].([]any) {
				id := pr.(map[string]any)["id"].(string)
				if seen[id] {
					t.Fatalf("row %s repeated on page %d", id, page)
				}
				seen[id] = true
			}
		}
		next, _ := r.Body["next_start_key"].(string)
		if next == "" {
			break
		}
		start = next
	}
	if len(seen) != total {
		t.Fatalf("saw %d rows, want %d", len(seen), total)
	}
	s.do(t, "GET", "/v2/accounts/"+acct+"/port_requests/canceled?modified_from=10&modified_to=5", tok, nil).expect(t, 400)
	s.do(t, "GET", "/v2/accounts/"+acct+"/port_requests/canceled?modified_from=1&modified_to=9999999", tok, nil).expect(t, 400)
}

// TestMonsterUIWizard replays Monster UI 4.0's create wizard.
func TestMonsterUIWizard(t *testing.T) { forEachStore(t, testMonsterUIWizard) }

func testMonsterUIWizard(t *testing.T, e *env) {
	s := e.start(t, "--port-activation-charge", "2.5")
	mtok, master := s.login(t, e.apiKey)
	tok, acct := s.customer(t, mtok, master, "Monster")
	base := "/v2/accounts/" + acct + "/port_requests"
	created := s.do(t, "PUT", base, tok, map[string]any{"data": map[string]any{
		"name": "Wizard", "port_state": "unconfirmed",
		"numbers":       map[string]any{"3125550100": map[string]any{}, "3125550101": map[string]any{}},
		"bill":          map[string]any{"name": "Zoë Müller", "address": "1 Main St", "locality": "Chicago", "region": "IL", "postal_code": "60601"},
		"notifications": map[string]any{"email": map[string]any{"send_to": "ops@example.com"}},
		"transfer_date": 63900000000, "ui_flags": map[string]any{"type": "full"},
	}}).expect(t, 201)
	id := created.data()["id"].(string)
	dataURI := "data:application/pdf;base64," + base64.StdEncoding.EncodeToString(minimalPDF)
	for _, name := range []string{"bill.pdf", "loa.pdf"} {
		s.do(t, "PUT", base+"/"+id+"/attachments?filename="+name+"&_=1", tok, dataURI, "Content-Type", "application/pdf").expect(t, 201)
	}
	// Monster reads attachments back as text.
	txt := s.do(t, "GET", base+"/"+id+"/attachments/loa.pdf", tok, nil, "Accept", "text/plain, */*; q=0.01").expect(t, 200)
	if string(txt.Raw) != dataURI {
		t.Errorf("data URI read back: %.80q", txt.Raw)
	}
	raw := s.do(t, "GET", base+"/"+id+"/attachments/loa.pdf", tok, nil, "Accept", "application/pdf").expect(t, 200)
	if !bytes.Equal(raw.Raw, minimalPDF) {
		t.Errorf("data URI decoded: %q", raw.Raw)
	}
	// The echoed object (read-only fields included) goes back with the PATCH.
	got := s.do(t, "GET", base+"/"+id+"?_=2", tok, nil).expect(t, 200)
	echo := got.data()
	r := s.do(t, "PATCH", base+"/"+id+"/submitted", tok, map[string]any{"data": echo}).expect(t, 402)
	if r.data()["activation_charges"] != 5.0 {
		t.Errorf("charges: %s", r.Raw)
	}
	s.do(t, "PATCH", base+"/"+id+"/submitted", tok, map[string]any{"data": echo, "accept_charges": true}).expect(t, 200)
	list := s.do(t, "GET", base+"?_=3", tok, nil).expect(t, 200)
	if g := list.list(); len(g) != 1 {
		t.Fatalf("list: %s", list.Raw)
	}
	row := list.list()[0].(map[string]any)["port_requests"].([]any)[0].(map[string]any)
	if row["port_state"] != "submitted" || row["ui_flags"] == nil || row["uploads"].(map[string]any)["bill.pdf"] == nil {
		t.Errorf("row: %v", row)
	}
	search := s.do(t, "GET", base+"?by_number=%2B13125550100&_=4", tok, nil).expect(t, 200)
	if len(search.list()) != 1 {
		t.Errorf("by_number: %s", search.Raw)
	}
	// 4.0 comments.
	c := s.do(t, "PUT", base+"/"+id+"/comments", tok, map[string]any{"data": map[string]any{"comments": []any{map[string]any{"content": "hello"}}}}).expect(t, 200)
	if cs, _ := c.data()["comments"].([]any); len(cs) != 1 {
		t.Errorf("comments: %s", c.Raw)
	}
	s.do(t, "DELETE", base+"/"+id+"/comments/0", tok, map[string]any{"data": map[string]any{}}).expect(t, 200)
}
