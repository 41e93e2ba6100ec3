package kazoo_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/rows"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

// Several stores on one site's databases: portreqd replicas sharing one
// CouchDB (or, on the embedded engine, stores sharing its engine).

func wantKind(t *testing.T, what string, err error, kind porting.Kind) {
	t.Helper()
	if !porting.IsKind(err, kind) {
		t.Fatalf("%s: %v (kind %d), want kind %d", what, err, porting.KindOf(err), kind)
	}
}

// Requests on two replicas race for one number: exactly one wins, every
// other call reports the number taken, and each caller's own number is
// claimed. The store contract checks one store; this is the cross-replica
// guarantee the engine's create of a fixed id gives.
func TestCreateClaimsAcrossReplicas(t *testing.T) {
	sites(t, func(t *testing.T, s site) {
		stores := []porting.ClaimStore{s.replica(t), s.replica(t)}
		const racers, shared = 20, "+12025550100"
		type outcome struct {
			claim, own *porting.Claim
			taken      []string
			err        error
		}
		results := make([]outcome, racers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := porting.RandomID()
				c := &porting.Claim{Number: shared, RequestID: req, AccountID: "acct", Type: porting.ClaimType}
				own := &porting.Claim{Number: fmt.Sprintf("+1303555%04d", i), RequestID: req, AccountID: "acct", Type: porting.ClaimType}
				<-start
				taken, err := stores[i%len(stores)].CreateClaims(ctx(t), []*porting.Claim{c, own})
				results[i] = outcome{c, own, taken, err}
			}()
		}
		close(start)
		wg.Wait()
		var winners []string
		for _, r := range results {
			if r.err != nil {
				t.Fatalf("CreateClaims: %v", r.err)
			}
			if len(r.taken) > 1 || r.own.Rev == "" {
				t.Errorf("taken %v, own claim rev %q: only the shared number is contended", r.taken, r.own.Rev)
			}
			if !slices.Contains(r.taken, shared) {
				winners = append(winners, r.claim.RequestID)
			}
		}
		if len(winners) != 1 {
			t.Fatalf("%d winners, want exactly 1", len(winners))
		}
		for _, st := range stores {
			got, err := st.GetClaims(ctx(t), []string{shared})
			if err != nil {
				t.Fatal(err)
			}
			if c := got[shared]; c == nil || c.RequestID != winners[0] {
				t.Errorf("stored claim %+v, winner %s", c, winners[0])
			}
		}
	})
}

// The revision-checked read answers unchanged only while the revision
// asked about is the current one, whichever replica wrote the document
// since; a document gone from the database (not soft-deleted) is not
// found, never unchanged.
func TestGetRequestDocUnlessRevAcrossReplicas(t *testing.T) {
	sites(t, func(t *testing.T, s site) {
		st, other := s.replica(t), s.replica(t)
		r := newRequest(porting.RandomID(), 1000)
		if err := st.CreateRequest(ctx(t), r); err != nil {
			t.Fatal(err)
		}
		doc, unchanged, err := st.GetRequestDocUnlessRev(ctx(t), r.ID, r.Rev)
		if err != nil || !unchanged || doc != nil {
			t.Fatalf("at the current revision: %q, unchanged %v, %v; want unchanged and no document", doc, unchanged, err)
		}
		doc, unchanged, err = st.GetRequestDocUnlessRev(ctx(t), r.ID, "")
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
		doc, unchanged, err = st.GetRequestDocUnlessRev(ctx(t), r.ID, old)
		if err != nil || unchanged {
			t.Fatalf("after an edit elsewhere: unchanged %v, %v; want the new document", unchanged, err)
		}
		got, err := porting.DecodeRequest(doc)
		if err != nil || got.Rev != edited.Rev || got.Public.String("name") != "edited elsewhere" {
			t.Fatalf("after an edit elsewhere: %+v, %v; want revision %s", got, err, edited.Rev)
		}

		if _, err := s.raw.Delete(ctx(t), s.prefix+"port_requests", r.ID, edited.Rev); err != nil {
			t.Fatal(err)
		}
		_, unchanged, err = st.GetRequestDocUnlessRev(ctx(t), r.ID, edited.Rev)
		wantKind(t, "at the revision of a document deleted since", err, porting.KindNotFound)
		if unchanged {
			t.Error("a deleted document answered unchanged")
		}
		_, _, err = st.GetRequestDocUnlessRev(ctx(t), "_design/port_requests", "")
		wantKind(t, "a design document", err, porting.KindNotFound)
	})
}

// Two services, as two portreqd replicas, on one site: what one writes
// shows in the other's next GET and by_number lookup, although the other
// answers from its document cache while the revision holds (GET) or the
// bytes are the same (by_number).
func TestRequestReadsNeverStale(t *testing.T) {
	sites(t, func(t *testing.T, s site) {
		storeA := s.replica(t)
		a := porting.NewService(porting.Config{Store: storeA})
		readA := rows.New(rows.Config{Store: storeA, Service: a})
		b := porting.NewService(porting.Config{Store: s.replica(t)})
		master, _, err := a.Bootstrap(ctx(t), "key")
		if err != nil {
			t.Fatal(err)
		}
		const number = "+13125550100"
		data := porting.Fields{}
		data.Set("name", "v0")
		data.Set("numbers", map[string]any{number: map[string]any{}})
		r, err := a.CreateRequest(ctx(t), master, master.ID, data)
		if err != nil {
			t.Fatal(err)
		}
		currentRev := func() string {
			rev, _ := s.rawDoc(t, "port_requests", r.ID)["_rev"].(string)
			return rev
		}
		for i := 1; i <= 3; i++ {
			want := fmt.Sprintf("v%d", i-1)
			for range 2 { // the second read is answered from the cache
				row, rev, err := readA.Get(ctx(t), master, master.ID, r.ID)
				if err != nil || row.Fields().String("name") != want {
					t.Fatalf("GET shows %q (%v), want %q", row.Fields().String("name"), err, want)
				}
				if cur := currentRev(); rev == "" || rev != cur {
					t.Fatalf("GET answers revision %q, stored is %q", rev, cur)
				}
				l, err := readA.ByNumber(ctx(t), master, master.ID, number, false)
				if err != nil || len(l.Flat) != 1 || l.Flat[0].Fields().String("name") != want {
					t.Fatalf("by_number: %+v, %v; want one request named %q", l, err, want)
				}
			}
			edit := porting.Fields{}
			edit.Set("name", fmt.Sprintf("v%d", i))
			edit.Set("numbers", map[string]any{number: map[string]any{}})
			if _, err := b.UpdateRequest(ctx(t), master, master.ID, r.ID, edit); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := b.DeleteRequest(ctx(t), master, master.ID, r.ID); err != nil {
			t.Fatal(err)
		}
		_, _, err = readA.Get(ctx(t), master, master.ID, r.ID)
		wantKind(t, "GET after the delete", err, porting.KindNotFound)
		l, err := readA.ByNumber(ctx(t), master, master.ID, number, false)
		if err != nil || len(l.Flat) != 0 {
			t.Fatalf("by_number after the delete: %+v, %v; want none", l, err)
		}
	})
}

// Documents CouchDB refuses one by one (here by a validate_doc_update
// function, which another writer of the databases may have installed) are
// named in RawPutMany's error; the others are written.
func TestRawPutManyNamesRefused(t *testing.T) {
	s := couchSite(t, couchdbtest.URL(t))
	st := s.replica(t)
	s.putRaw(t, "port_requests", "_design/deny", map[string]any{
		"validate_doc_update": `function (doc) { if (doc.deny) { throw({forbidden: "denied"}); } }`,
	})
	doc := func(id string, deny bool) *porting.RawDoc {
		b, _ := json.Marshal(map[string]any{"pvt_type": "other", "deny": deny})
		return &porting.RawDoc{ID: id, Body: b}
	}
	ok, bad1, bad2 := porting.RandomID(), porting.RandomID(), porting.RandomID()
	err := st.RawPutMany(ctx(t), "port_requests", []*porting.RawDoc{doc(bad1, true), doc(ok, false), doc(bad2, true)})
	if err == nil || !strings.Contains(err.Error(), bad1) || !strings.Contains(err.Error(), bad2) ||
		strings.Contains(err.Error(), ok) || !strings.Contains(err.Error(), "2 of 3") {
		t.Fatalf("RawPutMany = %v, want an error naming %s and %s only", err, bad1, bad2)
	}
	if _, err := st.RawGet(ctx(t), "port_requests", ok); err != nil {
		t.Errorf("the accepted document: %v", err)
	}
	for _, id := range []string{bad1, bad2} {
		if _, err := st.RawGet(ctx(t), "port_requests", id); !porting.IsKind(err, porting.KindNotFound) {
			t.Errorf("a refused document: %v, want KindNotFound", err)
		}
	}
}
