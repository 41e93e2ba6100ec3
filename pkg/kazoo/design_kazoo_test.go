package kazoo_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/porting/storetest"
	"github.com/portreqd/portreqd/test/couchdbtest"
	"github.com/portreqd/portreqd/views"
)

// A design document of Kazoo's id that portreqd did not write (Kazoo's
// own, of another version, or an operator's) is stored byte for byte as
// it was after portreqd starts, on every engine, and portreqd works
// beside it: its own views are _design/portreqd.
func TestForeignDesignDocumentUntouched(t *testing.T) {
	sites(t, func(t *testing.T, s site) {
		// Databases first, as Kazoo would have made them.
		s.replica(t)
		foreign := map[string]map[string]any{
			"port_requests": {"language": "javascript", "views": map[string]any{
				// Kazoo 4.0's listing_submitted keys rows by id alone.
				"listing_submitted": map[string]any{"map": "function(doc) { if (doc.pvt_type == 'port_request' && doc.pvt_port_state == 'submitted') emit(doc._id, null); }"},
			}},
			"accounts": {"language": "javascript", "views": map[string]any{
				"listing_by_api": map[string]any{"map": "function(doc) { if (doc.pvt_api_key) emit(doc.pvt_api_key, {account_id: doc._id}); }"},
			}},
		}
		before := map[string][]byte{}
		for db, doc := range foreign {
			id := "_design/" + db
			if cur, err := s.raw.Get(ctx(t), s.prefix+db, id, engine.GetOptions{}); err == nil {
				var m map[string]any
				_ = json.Unmarshal(cur, &m)
				doc["_rev"] = m["_rev"]
			}
			s.putRaw(t, db, id, doc)
			raw, err := s.raw.Get(ctx(t), s.prefix+db, id, engine.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			before[db] = raw
		}

		st := s.replica(t)

		for db, raw := range before {
			got, err := s.raw.Get(ctx(t), s.prefix+db, "_design/"+db, engine.GetOptions{})
			if err != nil || string(got) != string(raw) {
				t.Errorf("%s/_design/%s after Open:\n%s (%v)\nwant as planted:\n%s", db, db, got, err, raw)
			}
		}
		acct := porting.RandomID()
		r := newRequest(acct, 1000)
		if err := st.CreateRequest(ctx(t), r); err != nil {
			t.Fatal(err)
		}
		p, err := storetest.ListRequests(ctx(t), st, porting.ListQuery{Account: acct, State: porting.Submitted})
		if err != nil || len(p.Requests()) != 1 {
			t.Errorf("listing beside a foreign design document: %+v, %v", p, err)
		}
		for _, n := range r.Numbers() {
			got, err := st.RequestsByNumber(ctx(t), n)
			if err != nil || len(got) != 1 || got[0].ID != r.ID {
				t.Errorf("by number %s beside a foreign design document: %v, %v", n, got, err)
			}
		}
	})
}

// A design document an earlier portreqd installed under Kazoo's id is
// recognised by its content: replaced by the Kazoo-compatible one where
// stores install them (CouchDB), removed where not (embedded).
func TestLegacyDesignDocumentReplaced(t *testing.T) {
	legacy, err := views.Legacy()
	if err != nil {
		t.Fatal(err)
	}
	kz := map[string]views.DesignDoc{}
	for _, d := range kazooDesigns(t) {
		kz[d.DB+" "+d.ID] = d
	}
	for _, l := range legacy {
		t.Run(l.DB+"/"+l.ID+fmt.Sprint(len(l.Views())), func(t *testing.T) {
			sites(t, func(t *testing.T, s site) {
				s.replica(t)
				doc := map[string]any{}
				for k, v := range l.Doc {
					doc[k] = v
				}
				if cur, err := s.raw.Get(ctx(t), s.prefix+l.DB, l.ID, engine.GetOptions{}); err == nil {
					var m map[string]any
					_ = json.Unmarshal(cur, &m)
					doc["_rev"] = m["_rev"]
				}
				s.putRaw(t, l.DB, l.ID, doc)

				s.replica(t)

				raw, err := s.raw.Get(ctx(t), s.prefix+l.DB, l.ID, engine.GetOptions{})
				if !s.kazoo {
					if err == nil {
						t.Fatalf("legacy %s/%s still stored: %s", l.DB, l.ID, raw)
					}
					return
				}
				want, ok := kz[l.DB+" "+l.ID]
				if !ok {
					t.Fatalf("no Kazoo design document %s/%s in package views", l.DB, l.ID)
				}
				got := s.rawDoc(t, l.DB, l.ID)
				delete(got, "_rev")
				if diff := cmp.Diff(want.Doc, got); diff != "" {
					t.Errorf("%s/%s (-want +got):\n%s", l.DB, l.ID, diff)
				}
			})
		})
	}
}

// The databases Kazoo keeps per number prefix and per account and month
// get Kazoo's design documents when portreqd creates them on CouchDB; a
// design document already there stays as it was.
func TestOnDemandDatabasesGetKazooDesigns(t *testing.T) {
	sites(t, func(t *testing.T, s site) {
		st := s.replica(t)
		if !s.kazoo {
			// The embedded engine installs none (no Kazoo reads it).
			num := &porting.PhoneNumber{Number: "+12025550123", State: porting.NumberInService, AssignedTo: porting.RandomID(), Other: porting.Fields{}}
			if err := st.CreateNumber(ctx(t), num); err != nil {
				t.Fatal(err)
			}
			if raw, err := s.raw.Get(ctx(t), s.prefix+porting.NumberDB(num.Number), "_design/numbers", engine.GetOptions{}); err == nil {
				t.Errorf("embedded engine: _design/numbers installed: %s", raw)
			}
			return
		}
		all, err := views.Kazoo()
		if err != nil {
			t.Fatal(err)
		}
		want := func(class, db string) {
			t.Helper()
			n := 0
			for _, d := range all {
				if d.DB != class {
					continue
				}
				n++
				got := s.rawDoc(t, db, d.ID)
				delete(got, "_rev")
				if diff := cmp.Diff(d.Doc, got); diff != "" {
					t.Errorf("%s/%s (-want +got):\n%s", db, d.ID, diff)
				}
			}
			if n == 0 {
				t.Errorf("package views has no design document of class %s", class)
			}
		}

		num := &porting.PhoneNumber{Number: "+12025550123", State: porting.NumberInService, AssignedTo: porting.RandomID(), Other: porting.Fields{}}
		if err := st.CreateNumber(ctx(t), num); err != nil {
			t.Fatal(err)
		}
		want(views.ClassNumbers, porting.NumberDB(num.Number))

		acct := porting.RandomID()
		modb := porting.AccountDB(acct) + "-202612"
		tx := &porting.Transaction{ID: porting.RandomID(), Type: "debit", AccountID: acct, DB: modb, AccountDB: porting.EncodedDB(modb)}
		if err := st.CreateTransaction(ctx(t), tx); err != nil {
			t.Fatal(err)
		}
		want(views.ClassAccountMODB, modb)

		// Another number prefix whose database Kazoo made, with its own
		// _design/numbers: left alone.
		other := "+13125550123"
		db := porting.NumberDB(other)
		if err := s.raw.CreateDB(ctx(t), s.prefix+db); err != nil {
			t.Fatal(err)
		}
		s.putRaw(t, db, "_design/numbers", map[string]any{"views": map[string]any{"status": map[string]any{"map": "function(doc) { emit(doc.pvt_state, null); }"}}})
		before, _ := s.raw.Get(ctx(t), s.prefix+db, "_design/numbers", engine.GetOptions{})
		if err := st.CreateNumber(ctx(t), &porting.PhoneNumber{Number: other, State: porting.NumberInService, AssignedTo: acct, Other: porting.Fields{}}); err != nil {
			t.Fatal(err)
		}
		after, _ := s.raw.Get(ctx(t), s.prefix+db, "_design/numbers", engine.GetOptions{})
		if string(before) != string(after) {
			t.Errorf("Kazoo's _design/numbers rewritten:\n%s\nwas\n%s", after, before)
		}
	})
}

// kazooVector is one document and the rows a Kazoo view gives for it
// (views/kazoo/testdata/vectors.json; README.md there traces each view
// to the Kazoo code that defines and queries it).
type kazooVector struct {
	DB     string          `json:"db"`
	Design string          `json:"design"`
	View   string          `json:"view"`
	Doc    json.RawMessage `json:"doc"`
	Rows   []struct {
		Key   any `json:"key"`
		Value any `json:"value"`
	} `json:"rows"`
	Reduce json.RawMessage `json:"reduce"`
}

// Every Kazoo-compatible view gives, on each engine, the rows Kazoo's own
// view gives for the same document.
func TestKazooViewsGiveKazooRows(t *testing.T) {
	b, err := os.ReadFile("../../views/kazoo/testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vectors []kazooVector
	if err := json.Unmarshal(b, &vectors); err != nil {
		t.Fatal(err)
	}
	designs, err := views.Kazoo()
	if err != nil {
		t.Fatal(err)
	}
	sites(t, func(t *testing.T, s site) {
		// One database per class and design, more when two vectors share
		// a document id.
		type bucket struct {
			db  string
			ids map[string]bool
		}
		buckets := map[string][]*bucket{}
		checked := 0
		type placed struct {
			v   kazooVector
			db  string
			id  string
			seq int
		}
		var all []placed
		for i, v := range vectors {
			if v.Reduce != nil {
				continue // reduce vectors: see the reduce query below
			}
			var head struct {
				ID string `json:"_id"`
			}
			if err := json.Unmarshal(v.Doc, &head); err != nil {
				t.Fatalf("vector %d: %v", i, err)
			}
			id := head.ID
			group := v.DB + "_" + v.Design
			var bk *bucket
			for _, c := range buckets[group] {
				if !c.ids[id] {
					bk = c
					break
				}
			}
			if bk == nil {
				bk = &bucket{db: fmt.Sprintf("vec_%s_%d", group, len(buckets[group])), ids: map[string]bool{}}
				buckets[group] = append(buckets[group], bk)
				if err := s.raw.CreateDB(ctx(t), s.prefix+bk.db); err != nil {
					t.Fatal(err)
				}
				for _, d := range designs {
					if d.DB == v.DB && d.ID == "_design/"+v.Design {
						body, _ := json.Marshal(d.Doc)
						if _, err := s.raw.Put(ctx(t), s.prefix+bk.db, d.ID, body); err != nil {
							t.Fatalf("design %s: %v", d.ID, err)
						}
					}
				}
			}
			bk.ids[id] = true
			// Members in the vector's order (a map function that walks an
			// object emits in that order); no _rev, and no stubs of
			// attachments never stored (no view reads them).
			body := withoutMembers(t, v.Doc, "_rev", "_attachments")
			if _, err := s.raw.Put(ctx(t), s.prefix+bk.db, id, body); err != nil {
				t.Fatalf("vector %d (%s/%s): put %s: %v", i, v.Design, v.View, id, err)
			}
			all = append(all, placed{v: v, db: bk.db, id: id, seq: i})
		}
		for _, p := range all {
			var got []string
			err := s.raw.Query(ctx(t), s.prefix+p.db, p.v.Design, p.v.View, engine.Query{}, func(r engine.Row) error {
				if r.ID == p.id {
					got = append(got, rowText(t, r.Key, r.Value))
				}
				return nil
			})
			if err != nil {
				t.Errorf("vector %d: %s/%s: %v", p.seq, p.v.Design, p.v.View, err)
				continue
			}
			var want []string
			for _, r := range p.v.Rows {
				k, _ := json.Marshal(r.Key)
				val, _ := json.Marshal(r.Value)
				want = append(want, rowText(t, k, val))
			}
			sort.Strings(got)
			sort.Strings(want)
			if !slices.Equal(got, want) {
				t.Errorf("vector %d: %s/%s of %s:\n got %v\nwant %v", p.seq, p.v.Design, p.v.View, p.id, got, want)
			}
			checked++
		}
		if checked < 100 {
			t.Errorf("only %d vectors checked", checked)
		}
		// Every view with a reduce function reduces on this engine.
		for group, bks := range buckets {
			for _, d := range designs {
				if d.DB+"_"+d.ID[len("_design/"):] != group {
					continue
				}
				for name, v := range d.Doc["views"].(map[string]any) {
					red, ok := v.(map[string]any)["reduce"].(string)
					if !ok {
						continue
					}
					if !s.kazoo && !strings.HasPrefix(red, "_") {
						// The embedded engine reduces with CouchDB's
						// built-in functions only; it installs no Kazoo
						// design documents, so none of these runs there.
						continue
					}
					err := s.raw.Query(ctx(t), s.prefix+bks[0].db, d.ID[len("_design/"):], name, engine.Query{Reduce: true, Group: true}, func(engine.Row) error { return nil })
					if err != nil {
						t.Errorf("%s/%s reduce: %v", d.ID, name, err)
					}
				}
			}
		}
	})
}

// withoutMembers is JSON object doc without the named members, the others
// in their order.
func withoutMembers(t *testing.T, doc []byte, names ...string) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", doc)
	}
	out := []byte{'{'}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		name := tok.(string)
		if slices.Contains(names, name) {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		k, _ := json.Marshal(name)
		out = append(append(append(out, k...), ':'), v...)
	}
	return append(out, '}')
}

// rowText is a row as comparable text: key and value decoded and encoded
// again (numbers in one form, members sorted).
func rowText(t *testing.T, key, value []byte) string {
	t.Helper()
	var k, v any
	if err := json.Unmarshal(key, &k); err != nil {
		t.Fatalf("row key %s: %v", key, err)
	}
	if len(value) > 0 {
		if err := json.Unmarshal(value, &v); err != nil {
			t.Fatalf("row value %s: %v", value, err)
		}
	}
	kb, _ := json.Marshal(k)
	vb, _ := json.Marshal(v)
	return string(kb) + " => " + string(vb)
}

// Replicating a portreqd site into a Kazoo site's databases (CouchDB's own
// replication, no filter) leaves Kazoo's design documents as Kazoo wrote
// them: portreqd's Kazoo-compatible copies are at the lowest revision of
// their generation (installKazooDesign), so Kazoo's win the conflict,
// whether Kazoo's is at generation 1 (a tie broken by the hash) or above.
// Replicated back, Kazoo's copy wins on the portreqd site too.
func TestReplicationKeepsKazooDesigns(t *testing.T) {
	u := couchdbtest.URL(t)
	portreqd := couchSite(t, u)
	portreqd.replica(t)
	kazooSite := couchSite(t, u)
	kazoo := map[string]map[string]any{
		// Kazoo 4.0's listing_submitted keys rows by id alone.
		"port_requests": {"views": map[string]any{"listing_submitted": map[string]any{
			"map": "function(doc) { if (doc.pvt_type == 'port_request' && doc.pvt_port_state == 'submitted') emit(doc._id, null); }"}}},
		"accounts": {"views": map[string]any{"listing_by_api": map[string]any{
			"map": "function(doc) { if (doc.pvt_api_key) emit(doc.pvt_api_key, {account_id: doc._id}); }"}}},
	}
	for db, doc := range kazoo {
		if err := kazooSite.raw.CreateDB(ctx(t), kazooSite.prefix+db); err != nil {
			t.Fatal(err)
		}
		rev := kazooSite.putRaw(t, db, "_design/"+db, doc)
		if db == "accounts" { // generation 2: Kazoo refreshed its views once
			doc["_rev"] = rev
			kazooSite.putRaw(t, db, "_design/"+db, doc)
			delete(doc, "_rev")
		}
	}
	replicate := func(from, to site, db string) {
		t.Helper()
		base, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(map[string]any{
			"source": base.JoinPath(from.prefix + db).String(),
			"target": base.JoinPath(to.prefix + db).String(),
		})
		resp, err := http.Post(base.JoinPath("_replicate").String(), "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("replicate %s: %d %s", db, resp.StatusCode, out)
		}
	}
	for _, direction := range []struct {
		name     string
		from, to site
	}{{"into Kazoo's", portreqd, kazooSite}, {"back into portreqd's", kazooSite, portreqd}} {
		for db, want := range kazoo {
			replicate(direction.from, direction.to, db)
			got := direction.to.rawDoc(t, db, "_design/"+db)
			delete(got, "_rev")
			delete(got, "_conflicts")
			delete(got, "_id")
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s %s: _design/%s after replication (-Kazoo's +winner):\n%s", direction.name, db, db, diff)
			}
		}
	}
}
