package api_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
)

// Reads carry the revision as ETag; an edit with If-Match (or the
// revision echoed beside data) applies only to that revision, else 409
// and nothing changes: of 20 concurrent edits of one revision exactly one
// lands, where before every one answered 200 and 19 were lost.
func TestOptimisticConcurrency(t *testing.T) {
	tr := newTree43(t)
	id := tr.request(t, "concurrent", "+12025550361")
	one := "/v2/accounts/" + tr.customer + "/port_requests/" + id
	resp, raw := tr.f.do(t, "GET", one, tr.customerTok, "", nil)
	rev := tr.call(t, "GET", one, tr.customerTok, "", 200)["revision"].(string)
	if resp.StatusCode != 200 || resp.Header.Get("ETag") != `"`+rev+`"` {
		t.Fatalf("GET: %d ETag %q, want %q (%s)", resp.StatusCode, resp.Header.Get("ETag"), rev, raw)
	}
	edit := func(name, ifMatch string) (*http.Response, []byte) {
		return tr.f.do(t, "POST", one, tr.customerTok, `{"data":{"name":"`+name+`","numbers":{"+12025550361":{}}}}`,
			map[string]string{"If-Match": ifMatch})
	}
	var wg sync.WaitGroup
	statuses := make([]int, 20)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := edit("edit "+strings.Repeat("x", i), `"`+rev+`"`)
			statuses[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	won, lost := 0, 0
	for _, s := range statuses {
		switch s {
		case 200:
			won++
		case 409:
			lost++
		default:
			t.Errorf("concurrent edit answered %d", s)
		}
	}
	if won != 1 || lost != 19 {
		t.Errorf("20 edits of revision %s: %d applied, %d refused; want 1 and 19", rev, won, lost)
	}
	after := tr.call(t, "GET", one, tr.customerTok, "", 200)
	name := after["data"].(map[string]any)["name"]
	// A stale If-Match, and a stale revision beside data, change nothing.
	if resp, raw := edit("stale", `"`+rev+`"`); resp.StatusCode != 409 || !strings.Contains(string(raw), "read it again") {
		t.Errorf("stale If-Match: %d %s", resp.StatusCode, raw)
	}
	tr.call(t, "POST", one, tr.customerTok, `{"revision":"`+rev+`","data":{"name":"stale body","numbers":{"+12025550361":{}}}}`, 409)
	tr.call(t, "PATCH", one+"/submitted", tr.customerTok, `{"revision":"`+rev+`","data":{}}`, 409)
	if got := tr.call(t, "GET", one, tr.customerTok, "", 200)["data"].(map[string]any)["name"]; got != name {
		t.Errorf("after refused edits the name is %v, want %v", got, name)
	}
	// The current revision applies; no precondition applies too.
	cur := after["revision"].(string)
	if resp, raw := edit("current", cur); resp.StatusCode != 200 {
		t.Errorf("If-Match current: %d %s", resp.StatusCode, raw)
	}
	if resp, raw := edit("unconditional", ""); resp.StatusCode != 200 {
		t.Errorf("no If-Match: %d %s", resp.StatusCode, raw)
	}
}

// Comments change only through the comment routes: an edit echoing a
// stale copy of the request keeps the authority's comment; a comment newer
// than the stored ones is added, stamped with its writer.
func TestEditKeepsComments(t *testing.T) {
	tr := newTree43(t)
	id := tr.request(t, "echo", "+12025550362")
	one := "/v2/accounts/" + tr.customer + "/port_requests/" + id
	tr.call(t, "PUT", one+"/comments", tr.customerTok, `{"data":{"comments":[{"content":"mine","timestamp":63900000100}]}}`, 200)
	stale := `{"data":{"name":"echo","numbers":{"+12025550362":{}},"comments":[{"content":"mine","timestamp":63900000100}]}}`
	tr.call(t, "PUT", one+"/comments", tr.resellerTok, `{"data":{"comments":[{"content":"from the authority","timestamp":63900000200}]}}`, 200)
	tr.call(t, "POST", one, tr.customerTok, stale, 200)
	tr.call(t, "POST", one, tr.customerTok, `{"data":{"name":"echo","numbers":{"+12025550362":{}},"comments":[
		{"content":"mine","timestamp":63900000100},{"content":"added by edit","timestamp":63900000300,"account_id":"forged"}]}}`, 200)
	var got []string
	for _, c := range tr.call(t, "GET", one+"/comments", tr.customerTok, "", 200)["data"].(map[string]any)["comments"].([]any) {
		m := c.(map[string]any)
		got = append(got, m["content"].(string)+"/"+m["account_id"].(string))
	}
	want := []string{"mine/" + tr.customer, "from the authority/" + tr.reseller, "added by edit/" + tr.customer}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("comments %q, want %q", got, want)
	}
}
