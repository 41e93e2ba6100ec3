package couchstore_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/portreqd/portreqd/pkg/couchstore"
	"github.com/portreqd/portreqd/pkg/porting"
)

// TestGetRequestDocUnlessRev checks the revision-checked read: unchanged
// only while the revision asked about is the current one, whichever store
// (replica) wrote the document since.
func TestGetRequestDocUnlessRev(t *testing.T) {
	e := newEnv(t)
	other := e.open(t) // a second replica on the same CouchDB
	r := e.newRequest(t)

	doc, unchanged, err := e.store.GetRequestDocUnlessRev(ctx(t), r.ID, r.Rev)
	switch {
	case err != nil:
		t.Fatalf("at the current revision: %v", err)
	case unchanged && doc != nil:
		t.Fatalf("unchanged, and a document too: %q", doc)
	case !unchanged && !strings.Contains(string(doc), r.Rev):
		t.Fatalf("at the current revision: %q, want unchanged or the document at %s", doc, r.Rev)
	case !unchanged && apacheCouchDB(t, e):
		t.Fatalf("Apache CouchDB answered If-None-Match of the current revision with the document, want 304")
	case !unchanged:
		// pouchdb-server ignores If-None-Match: the whole document is
		// the right answer too, only slower.
		t.Logf("the server answered If-None-Match with the document, not 304")
	}
	doc, unchanged, err = e.store.GetRequestDocUnlessRev(ctx(t), r.ID, "")
	if err != nil || unchanged || !strings.Contains(string(doc), r.Rev) {
		t.Fatalf("without a revision: %q, unchanged %v, %v; want the document", doc, unchanged, err)
	}

	old := r.Rev
	edited := *r
	edited.Public = porting.Fields{}
	edited.Public.Set("name", "edited elsewhere")
	if err := other.UpdateRequest(ctx(t), &edited); err != nil {
		t.Fatal(err)
	}
	doc, unchanged, err = e.store.GetRequestDocUnlessRev(ctx(t), r.ID, old)
	if err != nil || unchanged {
		t.Fatalf("after an edit elsewhere: unchanged %v, %v; want the new document", unchanged, err)
	}
	got, err := porting.DecodeRequest(doc)
	if err != nil || got.Rev != edited.Rev || got.Public.String("name") != "edited elsewhere" {
		t.Fatalf("after an edit elsewhere: %+v, %v; want revision %s", got, err, edited.Rev)
	}

	// Gone from CouchDB (not soft-deleted): not found, never "unchanged".
	if _, err := e.db("port_requests").Delete(ctx(t), r.ID, edited.Rev); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.store.GetRequestDocUnlessRev(ctx(t), r.ID, edited.Rev)
	wantKind(t, err, porting.KindNotFound)
	_, _, err = e.store.GetRequestDocUnlessRev(ctx(t), "_design/port_requests", "")
	wantKind(t, err, porting.KindNotFound)
}

// TestRequestReadsNeverStale runs two services, as two portreqd replicas,
// on one CouchDB: what one writes shows in the other's next GET and
// by_number lookup, although the other answers from its document cache
// while the revision holds (GET) or the bytes are the same (by_number).
func TestRequestReadsNeverStale(t *testing.T) {
	e := newEnv(t)
	a := porting.NewService(porting.Config{Store: e.store})
	b := porting.NewService(porting.Config{Store: e.open(t)})
	master, _, err := a.Bootstrap(ctx(t), "key")
	if err != nil {
		t.Fatal(err)
	}
	data := porting.Fields{}
	data.Set("name", "v0")
	data.Set("numbers", map[string]any{"+13125550100": map[string]any{}})
	r, err := a.CreateRequest(ctx(t), master, master.ID, data)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		want := fmt.Sprintf("v%d", i-1)
		for range 2 { // the second read is answered from the cache
			row, rev, err := a.GetRequestView(ctx(t), master, master.ID, r.ID)
			if err != nil || row.Fields().String("name") != want {
				t.Fatalf("GET shows %q (%v), want %q", row.Fields().String("name"), err, want)
			}
			if rev == "" || rev != currentRev(t, e, r.ID) {
				t.Fatalf("GET answers revision %q, stored is %q", rev, currentRev(t, e, r.ID))
			}
			l, err := a.ByNumber(ctx(t), master, master.ID, "+13125550100", false)
			if err != nil || len(l.Flat) != 1 || l.Flat[0].Fields().String("name") != want {
				t.Fatalf("by_number: %+v, %v; want one request named %q", l, err, want)
			}
		}
		edit := porting.Fields{}
		edit.Set("name", fmt.Sprintf("v%d", i))
		edit.Set("numbers", map[string]any{"+13125550100": map[string]any{}})
		if _, err := b.UpdateRequest(ctx(t), master, master.ID, r.ID, edit); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.DeleteRequest(ctx(t), master, master.ID, r.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = a.GetRequestView(ctx(t), master, master.ID, r.ID)
	wantKind(t, err, porting.KindNotFound)
	l, err := a.ByNumber(ctx(t), master, master.ID, "+13125550100", false)
	if err != nil || len(l.Flat) != 0 {
		t.Fatalf("by_number after the delete: %+v, %v; want none", l, err)
	}
}

// apacheCouchDB tells Apache CouchDB, which answers a matching
// If-None-Match with 304, from pouchdb-server, which does not.
func apacheCouchDB(t *testing.T, e *env) bool {
	t.Helper()
	v, err := e.raw.Version(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(v.Vendor, "Apache")
}

func currentRev(t *testing.T, e *env, id string) string {
	t.Helper()
	rev, _ := e.rawDoc(t, "port_requests", id)["_rev"].(string)
	return rev
}

// TestReadsReuseConnections checks that the read paths read CouchDB's
// answers to the end, so that their connections go back to the pool: the
// view iterator this replaced closed the answer early, which cost a new TCP
// connection (and CouchDB a new handler) per by_number lookup.
func TestReadsReuseConnections(t *testing.T) {
	e := newEnv(t)
	r := e.newRequest(t)
	doc, err := e.store.GetRequestDoc(ctx(t), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	const number = "+13125550177"
	var raw map[string]any
	if err := json.Unmarshal(doc, &raw); err != nil {
		t.Fatal(err)
	}
	raw["numbers"] = map[string]any{number: map[string]any{}}
	e.putRaw(t, "port_requests", r.ID, raw)

	// A proxy in front of CouchDB counts the connections the store opens.
	target, err := url.Parse(e.url)
	if err != nil {
		t.Fatal(err)
	}
	creds := target.User
	target.User = nil
	proxy := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	var conns atomic.Int64
	proxy.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	proxy.Start()
	t.Cleanup(proxy.Close)
	u, _ := url.Parse(proxy.URL)
	u.User = creds
	s, err := couchstore.Open(ctx(t), couchstore.Options{URL: u.String(), Prefix: e.prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })

	before := conns.Load()
	for range 20 {
		found, err := s.RequestsByNumber(ctx(t), number)
		if err != nil || len(found) != 1 || found[0].ID != r.ID {
			t.Fatalf("RequestsByNumber: %v, %v", found, err)
		}
		if _, err := s.GetRequestDoc(ctx(t), r.ID); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns.Load() - before; n > 1 {
		t.Errorf("40 sequential reads opened %d connections, want at most 1", n)
	}
}
