package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// couchSegment escapes one path segment for CouchDB, which reads a literal
// "+" in a path as a space: "numbers/+1202" goes out as numbers%2F%2B1202.
func couchSegment(s string) string {
	return strings.ReplaceAll(url.PathEscape(s), "+", "%2B")
}

// putRaw writes a document straight into CouchDB, as Kazoo would.
func (e *env) putRaw(t *testing.T, db, id string, doc []byte) {
	t.Helper()
	u := strings.TrimRight(e.couchURL, "/") + "/" + couchSegment(e.prefix+db) + "/" + couchSegment(id)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusAccepted {
		t.Fatalf("PUT %s: %s", id, resp.Status)
	}
}

// getRaw reads a document straight from CouchDB.
func (e *env) getRaw(t *testing.T, db, id string) map[string]any {
	t.Helper()
	u := strings.TrimRight(e.couchURL, "/") + "/" + couchSegment(e.prefix+db) + "/" + couchSegment(id)
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/%s: %s", db, id, resp.Status)
	}
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestKazooWrittenRequest reads, lists and transitions a port request
// document written by Kazoo (testdata/kazoo_port_request.json, placeholders
// for the account filled in).
func TestKazooWrittenRequest(t *testing.T) {
	e := newEnv(t, storeCouch)
	s := e.start(t)
	mtok, master := s.login(t, e.apiKey)
	tok, acct := s.customer(t, mtok, master, "Kazoo Customer")

	raw, err := os.ReadFile("testdata/kazoo_port_request.json")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.NewReplacer("{ACCOUNT_ID}", acct, "{MASTER_ID}", master).Replace(string(raw))
	var parsed map[string]any
	if err := json.Unmarshal([]byte(doc), &parsed); err != nil {
		t.Fatal(err)
	}
	id := parsed["_id"].(string)
	// Kazoo's modified time is recent enough to fall inside default windows.
	e.putRaw(t, "port_requests", id, []byte(doc))

	base := "/v2/accounts/" + acct + "/port_requests"
	got := s.do(t, "GET", base+"/"+id, tok, nil).expect(t, 200)
	d := got.data()
	if d["port_state"] != "submitted" || d["carrier"] != "PACIFIC BELL" || d["kazoo_extra"] != "kept" {
		t.Errorf("read: %s", got.Raw)
	}
	if strings.Contains(string(got.Raw), "pvt_") {
		t.Errorf("leaks pvt: %s", got.Raw)
	}
	if up, _ := d["uploads"].(map[string]any); len(up) != 0 {
		t.Errorf("uploads: %v", up)
	}
	list := s.do(t, "GET", base+"/submitted", tok, nil).expect(t, 200)
	if g := list.list(); len(g) != 1 {
		t.Fatalf("listing: %s", list.Raw)
	}
	desc := s.do(t, "GET", "/v2/accounts/"+master+"/descendants/port_requests/submitted", mtok, nil).expect(t, 200)
	if len(desc.list()) != 1 {
		t.Errorf("descendants: %s", desc.Raw)
	}
	// Kazoo's active request claims nothing, yet its number is respected.
	dup := s.do(t, "PUT", base, tok, reqBody("dup", "4158867900"))
	if msg := numberError(t, dup, "4158867900"); msg != "Number is on a port request already: "+id {
		t.Errorf("duplicate of a Kazoo request: %q", msg)
	}
	s.do(t, "PATCH", base+"/"+id+"/pending", mtok, nil).expect(t, 200)
	after := s.do(t, "GET", base+"/"+id, tok, nil).expect(t, 200)
	if after.data()["port_state"] != "pending" || after.data()["kazoo_extra"] != "kept" {
		t.Errorf("after transition: %s", after.Raw)
	}
}
