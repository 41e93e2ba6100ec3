// Package enginetest is the contract every document engine passes: the
// CouchDB behaviour the Kazoo layer relies on, written once and run on
// every engine (and so on real CouchDB, which is the reference: a case
// that CouchDB fails is a wrong case).
package enginetest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/engine"
)

// Open returns an engine and a database name prefix of the test's own
// (valid CouchDB name start); the engine is closed by the suite.
type Open func(t *testing.T) (engine.Engine, string)

// Deviations names what a server known to differ from CouchDB gets wrong,
// so that the suite still checks everything else on it: pouchdb-server,
// the fallback for machines without CouchDB, collates strings by code
// point (not ICU) and lists "a/b" as "ab" in _all_dbs. An engine of ours
// has none.
type Deviations struct {
	CodePointCollation bool
	SlashlessAllDBs    bool
	// GzipsAttachments is not a deviation but Apache CouchDB's own
	// behaviour, which pouchdb-server and the embedded engine do not share:
	// compressible attachments (text/plain among them) are kept gzipped.
	// The suite then requires att_encoding_info to say so. Without it, an
	// engine may still compress, as long as it says so.
	GzipsAttachments bool
}

// Run runs every case of the contract, each on fresh databases.
func Run(t *testing.T, open Open) { RunWith(t, open, Deviations{}) }

// RunWith is Run on a server with known deviations.
func RunWith(t *testing.T, open Open, dev Deviations) {
	deviations = dev
	cases := []struct {
		name string
		fn   func(t *testing.T, e engine.Engine, db string)
	}{
		{"Databases", databases},
		{"CreateReadUpdate", createReadUpdate},
		{"Conflicts", conflicts},
		{"DeleteAndRecreate", deleteAndRecreate},
		{"Bulk", bulk},
		{"AllDocs", allDocs},
		{"Attachments", attachments},
		{"AttachmentEncoding", attachmentEncoding},
		{"ConditionalGet", conditionalGet},
		{"Views", views},
		{"Changes", changes},
		{"OddIDs", oddIDs},
		{"PutRevision", putRevision},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, prefix := open(t)
			t.Cleanup(func() { _ = e.Close() })
			db := prefix + strings.ToLower(c.name)
			if err := e.CreateDB(ctx(t), db); err != nil {
				t.Fatalf("CreateDB %s: %v", db, err)
			}
			t.Cleanup(func() { _ = e.DeleteDB(context.Background(), db) })
			c.fn(t, e, db)
		})
	}
}

// deviations is the server's under test (the suite's cases run one at a
// time).
var deviations Deviations

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// doc decodes a document's members.
func doc(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("document %q: %v", raw, err)
	}
	return m
}

func mustPut(t *testing.T, e engine.Engine, db, id, body string) string {
	t.Helper()
	rev, err := e.Put(ctx(t), db, id, []byte(body))
	if err != nil {
		t.Fatalf("Put %s %s: %v", id, body, err)
	}
	return rev
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

func databases(t *testing.T, e engine.Engine, db string) {
	c := ctx(t)
	other := db + "_x/+1"
	ok, err := e.DBExists(c, other)
	if err != nil || ok {
		t.Fatalf("DBExists(%s) before creation = %v, %v", other, ok, err)
	}
	if err := e.CreateDB(c, other); err != nil {
		t.Fatalf("CreateDB(%s): %v", other, err)
	}
	if err := e.CreateDB(c, other); err != nil {
		t.Errorf("CreateDB of an existing database: %v, want nil", err)
	}
	if ok, err := e.DBExists(c, other); err != nil || !ok {
		t.Errorf("DBExists(%s) after creation = %v, %v", other, ok, err)
	}
	all, err := e.AllDBs(c)
	listed := other
	if deviations.SlashlessAllDBs {
		listed = strings.ReplaceAll(other, "/", "")
	}
	if err != nil || !slices.Contains(all, listed) || !slices.IsSorted(all) {
		t.Errorf("AllDBs = %v, %v: want sorted, with %s", all, err, other)
	}
	rev := mustPut(t, e, other, "a", `{"v":1}`)
	if got, err := e.Get(c, other, "a", engine.GetOptions{}); err != nil || doc(t, got)["_rev"] != rev {
		t.Errorf("Get in %s: %s, %v", other, got, err)
	}
	if err := e.DeleteDB(c, other); err != nil {
		t.Fatalf("DeleteDB: %v", err)
	}
	if ok, _ := e.DBExists(c, other); ok {
		t.Errorf("%s still exists after DeleteDB", other)
	}
	wantErr(t, "DeleteDB of a missing database", e.DeleteDB(c, other), engine.ErrNotFound)
	_, err = e.Get(c, other, "a", engine.GetOptions{})
	wantErr(t, "Get in a missing database", err, engine.ErrNotFound)
	_, err = e.Put(c, other, "a", []byte(`{"v":1}`))
	wantErr(t, "Put in a missing database", err, engine.ErrNotFound)
}

func createReadUpdate(t *testing.T, e engine.Engine, db string) {
	c := ctx(t)
	rev1 := mustPut(t, e, db, "doc", `{"name":"Zoë","n":[1,2.5,{"x":null}],"t":true}`)
	if !strings.HasPrefix(rev1, "1-") {
		t.Errorf("first revision %q, want 1-…", rev1)
	}
	got, err := e.Get(c, db, "doc", engine.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := doc(t, got)
	if m["_id"] != "doc" || m["_rev"] != rev1 || m["name"] != "Zoë" || m["t"] != true {
		t.Errorf("Get = %s", got)
	}
	rev2 := mustPut(t, e, db, "doc", fmt.Sprintf(`{"_rev":%q,"name":"B"}`, rev1))
	if !strings.HasPrefix(rev2, "2-") {
		t.Errorf("second revision %q, want 2-…", rev2)
	}
	got, _ = e.Get(c, db, "doc", engine.GetOptions{})
	if m := doc(t, got); m["name"] != "B" || m["n"] != nil {
		t.Errorf("after update Get = %s: the body replaces the document", got)
	}
	if old, err := e.Get(c, db, "doc", engine.GetOptions{Rev: rev1}); err != nil || doc(t, old)["name"] != "Zoë" {
		t.Errorf("Get at the old revision = %s, %v", old, err)
	}
	_, err = e.Get(c, db, "missing", engine.GetOptions{})
	wantErr(t, "Get of a missing id", err, engine.ErrNotFound)
}

func conflicts(t *testing.T, e engine.Engine, db string) {
	c := ctx(t)
	rev1 := mustPut(t, e, db, "doc", `{"v":1}`)
	_, err := e.Put(c, db, "doc", []byte(`{"v":2}`))
	wantErr(t, "create of a live id", err, engine.ErrConflict)
	rev2 := mustPut(t, e, db, "doc", fmt.Sprintf(`{"_rev":%q,"v":2}`, rev1))
	_, err = e.Put(c, db, "doc", []byte(fmt.Sprintf(`{"_rev":%q,"v":3}`, rev1)))
	wantErr(t, "update at a stale revision", err, engine.ErrConflict)
	_, err = e.Delete(c, db, "doc", rev1)
	wantErr(t, "delete at a stale revision", err, engine.ErrConflict)
	got, _ := e.Get(c, db, "doc", engine.GetOptions{Conflicts: true})
	if m := doc(t, got); m["_rev"] != rev2 || m["v"] != 2.0 || m["_conflicts"] != nil {
		t.Errorf("after refused writes Get = %s, want revision %s and no conflicts", got, rev2)
	}
	leaves, err := e.Leaves(c, db, "doc")
	if err != nil || len(leaves) != 1 || leaves[0].Rev != rev2 || !slices.Equal(leaves[0].Ancestors, []string{rev2, rev1}) {
		t.Errorf("Leaves = %+v, %v: want one leaf %s with ancestors [%s %s]", leaves, err, rev2, rev2, rev1)
	}
}

func deleteAndRecreate(t *testing.T, e engine.Engine, db string) {
	c := ctx(t)
	rev1 := mustPut(t, e, db, "doc", `{"v":1}`)
	del, err := e.Delete(c, db, "doc", rev1)
	if err != nil || !strings.HasPrefix(del, "2-") {
		t.Fatalf("Delete = %q, %v", del, err)
	}
	_, err = e.Get(c, db, "doc", engine.GetOptions{})
	wantErr(t, "Get of a deleted document", err, engine.ErrNotFound)
	leaves, err := e.Leaves(c, db, "doc")
	if err != nil || len(leaves) != 1 || !leaves[0].Deleted || leaves[0].Rev != del {
		t.Errorf("Leaves of a deleted document = %+v, %v", leaves, err)
	}
	rev3 := mustPut(t, e, db, "doc", `{"v":3}`)
	if !strings.HasPrefix(rev3, "3-") {
		t.Errorf("create over a deletion: revision %q, want 3-… (it extends the deleted branch)", rev3)
	}
	if got, err := e.Get(c, db, "doc", engine.GetOptions{}); err != nil || doc(t, got)["v"] != 3.0 {
		t.Errorf("after re-creation Get = %s, %v", got, err)
	}
	_, err = e.Delete(c, db, "missing", "1-abc")
	if !errors.Is(err, engine.ErrNotFound) && !errors.Is(err, engine.ErrConflict) {
		t.Errorf("Delete of a missing id: %v, want not found or conflict", err)
	}
}

func bulk(t *testing.T, e engine.Engine, db string) {
	c := ctx(t)
	rev := mustPut(t, e, db, "b", `{"v":1}`)
	res, err := e.Bulk(c, db, [][]byte{
		[]byte(`{"_id":"a","v":1}`),
		[]byte(`{"_id":"b","v":2}`), // create of a live id
		[]byte(fmt.Sprintf(`{"_id":"b","_rev":%q,"v":3}`, rev)),
		[]byte(`{"_id":"c","v":4}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 4 {
		t.Fatalf("Bulk answered %d results for 4 documents: %+v", len(res), res)
	}
	byID := map[string][]engine.Result{}
	for _, r := range res {
		byID[r.ID] = append(byID[r.ID], r)
	}
	if r := byID["a"]; len(r) != 1 || r[0].Err != nil || !strings.HasPrefix(r[0].Rev, "1-") {
		t.Errorf("bulk create a: %+v", r)
	}
	if r := byID["b"]; len(r) != 2 || (r[0].Err == nil) == (r[1].Err == nil) {
		t.Errorf("bulk b: %+v, want one conflict and one success", r)
	} else {
		for _, x := range r {
			if x.Err != nil && !errors.Is(x.Err, engine.ErrConflict) {
				t.Errorf("bulk b refused with %v, want conflict", x.Err)
			}
		}
	}
	if got, _ := e.Get(c, db, "b", engine.GetOptions{}); doc(t, got)["v"] != 3.0 {
		t.Errorf("b after bulk = %s, want v 3", got)
	}
	if res, err := e.Bulk(c, db, nil); err != nil || len(res) != 0 {
		t.Errorf("empty Bulk = %+v, %v", res, err)
	}
}

func allDocs(t *testing.T, e engine.Engine, db string) {
	c := ctx(t)
	for _, id := range []string{"b", "a", "c", "d"} {
		mustPut(t, e, db, id, fmt.Sprintf(`{"id":%q}`, id))
	}
	rev, _ := e.Get(c, db, "d", engine.GetOptions{})
	if _, err := e.Delete(c, db, "d", doc(t, rev)["_rev"].(string)); err != nil {
		t.Fatal(err)
	}
	var ids []string
	var docs int
	err := e.AllDocs(c, db, engine.Query{Keys: [][]byte{[]byte(`"c"`), []byte(`"zz"`), []byte(`"a"`), []byte(`"d"`)}, IncludeDocs: true}, func(r engine.Row) error {
		ids = append(ids, r.ID)
		if r.Doc != nil {
			docs++
			if doc(t, r.Doc)["id"] != r.ID {
				t.Errorf("row %s has document %s", r.ID, r.Doc)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []string{"c", "a"}) || docs != 2 {
		t.Errorf("AllDocs by keys: ids %v (%d documents), want [c a]: missing and deleted keys give no row here", ids, docs)
	}
	ids = nil
	err = e.AllDocs(c, db, engine.Query{StartKey: []byte(`"b"`), Limit: 5}, func(r engine.Row) error {
		ids = append(ids, r.ID)
		return nil
	})
	if err != nil || !slices.Equal(ids, []string{"b", "c"}) {
		t.Errorf("AllDocs from b: %v, %v", ids, err)
	}
}

func attachments(t *testing.T, e engine.Engine, db string) {
	c := ctx(t)
	rev1 := mustPut(t, e, db, "doc", `{"v":1}`)
	body := bytes.Repeat([]byte("%PDF-1.4 portreqd "), 70000) // 1.2 MB, streamed
	rev2, err := e.PutAttachment(c, db, "doc", rev1, "bill of sale.pdf", "application/pdf", bytes.NewReader(body))
	if err != nil || !strings.HasPrefix(rev2, "2-") {
		t.Fatalf("PutAttachment = %q, %v", rev2, err)
	}
	_, err = e.PutAttachment(c, db, "doc", rev1, "other.pdf", "application/pdf", strings.NewReader("x"))
	wantErr(t, "PutAttachment at a stale revision", err, engine.ErrConflict)
	att, err := e.GetAttachment(c, db, "doc", "bill of sale.pdf")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(att.Body)
	att.Body.Close()
	if err != nil || !bytes.Equal(got, body) || att.ContentType != "application/pdf" {
		t.Errorf("GetAttachment: %d bytes (%v), type %q; want the %d bytes put, application/pdf", len(got), err, att.ContentType, len(body))
	}
	raw, _ := e.Get(c, db, "doc", engine.GetOptions{})
	m := doc(t, raw)
	atts, _ := m["_attachments"].(map[string]any)
	stub, _ := atts["bill of sale.pdf"].(map[string]any)
	if stub["stub"] != true || stub["content_type"] != "application/pdf" {
		t.Fatalf("document after upload: %s, want a stub for the attachment", raw)
	}
	// An update that carries the stub keeps the attachment; one without
	// _attachments drops it.
	m["v"] = 2
	upd, _ := json.Marshal(m)
	rev3, err := e.Put(c, db, "doc", upd)
	if err != nil {
		t.Fatalf("update with the stub: %v", err)
	}
	if a, err := e.GetAttachment(c, db, "doc", "bill of sale.pdf"); err != nil {
		t.Errorf("attachment after an update carrying its stub: %v", err)
	} else {
		a.Body.Close()
	}
	if _, err := e.Put(c, db, "doc", []byte(fmt.Sprintf(`{"_rev":%q,"v":3}`, rev3))); err != nil {
		t.Fatal(err)
	}
	_, err = e.GetAttachment(c, db, "doc", "bill of sale.pdf")
	wantErr(t, "attachment after an update without it", err, engine.ErrNotFound)
	_, err = e.GetAttachment(c, db, "missing", "x")
	wantErr(t, "attachment of a missing document", err, engine.ErrNotFound)
}

// attachmentEncoding: a stub read with AttEncodingInfo tells whether its
// digest is the MD5 of the bytes (no "encoding") or of a compressed form
// ("encoding":"gzip", with "encoded_length"), on Get and on the documents
// of AllDocs and Query; "length" is always the byte count.
func attachmentEncoding(t *testing.T, e engine.Engine, db string) {
	c := ctx(t)
	body := bytes.Repeat([]byte("a compressible note 1202, "), 400)[:10240] // compressible
	sum := md5.Sum(body)
	md5Digest := "md5-" + base64.StdEncoding.EncodeToString(sum[:])
	rev := mustPut(t, e, db, "doc", `{"v":1}`)
	rev, err := e.PutAttachment(c, db, "doc", rev, "notes.txt", "text/plain", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("PutAttachment: %v", err)
	}
	if _, err := e.Put(c, db, "_design/t", []byte(`{"views":{"all":{"map":"function(doc){ emit(doc._id, null); }"}}}`)); err != nil {
		t.Fatalf("design document: %v", err)
	}
	stubOf := func(what string, raw []byte) map[string]any {
		t.Helper()
		m := doc(t, raw)
		atts, _ := m["_attachments"].(map[string]any)
		stub, _ := atts["notes.txt"].(map[string]any)
		if stub == nil || m["_rev"] != rev {
			t.Fatalf("%s: %s, want revision %s with a stub of notes.txt", what, raw, rev)
		}
		return stub
	}
	plain, err := e.Get(c, db, "doc", engine.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stub := stubOf("Get", plain)
	if stub["length"] != float64(len(body)) {
		t.Errorf("Get: stub %v, want length %d (the byte count)", stub, len(body))
	}
	// An engine that keeps the bytes as they came reports their MD5; one
	// that compresses must say so when asked.
	compressed := stub["digest"] != md5Digest || deviations.GzipsAttachments
	check := func(what string, raw []byte) {
		t.Helper()
		stub := stubOf(what, raw)
		if stub["length"] != float64(len(body)) {
			t.Errorf("%s: stub %v, want length %d (the byte count)", what, stub, len(body))
		}
		enc, _ := stub["encoding"].(string)
		switch {
		case enc == "" && stub["digest"] != md5Digest:
			t.Errorf("%s: stub %v without an encoding, want digest %s (the MD5 of the bytes)", what, stub, md5Digest)
		case enc == "" && compressed:
			t.Errorf("%s: stub %v, want \"encoding\":\"gzip\": the engine keeps text/plain compressed", what, stub)
		case enc != "" && (enc != "gzip" || stub["encoded_length"] == nil):
			t.Errorf("%s: stub %v, want encoding gzip with an encoded_length", what, stub)
		}
	}
	raw, err := e.Get(c, db, "doc", engine.GetOptions{AttEncodingInfo: true})
	if err != nil {
		t.Fatal(err)
	}
	check("Get with AttEncodingInfo", raw)
	n := 0
	row := func(what string) func(engine.Row) error {
		return func(r engine.Row) error {
			if r.ID == "doc" {
				n++
				check(what, r.Doc)
			}
			return nil
		}
	}
	q := engine.Query{Keys: [][]byte{[]byte(`"doc"`)}, IncludeDocs: true, AttEncodingInfo: true}
	if err := e.AllDocs(c, db, q, row("AllDocs by keys")); err != nil || n != 1 {
		t.Errorf("AllDocs by keys: %d rows of doc, %v", n, err)
	}
	n = 0
	q = engine.Query{StartKey: []byte(`"doc"`), EndKey: []byte(`"doc"`), IncludeDocs: true, AttEncodingInfo: true}
	if err := e.AllDocs(c, db, q, row("AllDocs by range")); err != nil || n != 1 {
		t.Errorf("AllDocs by range: %d rows of doc, %v", n, err)
	}
	n = 0
	q = engine.Query{Key: []byte(`"doc"`), IncludeDocs: true, AttEncodingInfo: true}
	if err := e.Query(c, db, "t", "all", q, row("Query")); err != nil || n != 1 {
		t.Errorf("Query: %d rows of doc, %v", n, err)
	}
	// The bytes are the bytes put, whatever the engine keeps.
	att, err := e.GetAttachment(c, db, "doc", "notes.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(att.Body)
	att.Body.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Errorf("GetAttachment: %d bytes (%v), want the %d put", len(got), err, len(body))
	}
}

// conditionalGet: Get with IfNoneMatch at the revision it would return
// answers ErrNotModified and no body; at any other, the document.
func conditionalGet(t *testing.T, e engine.Engine, db string) {
	c := ctx(t)
	rev1 := mustPut(t, e, db, "doc", `{"v":1}`)
	rev2 := mustPut(t, e, db, "doc", fmt.Sprintf(`{"_rev":%q,"v":2}`, rev1))
	for _, o := range []engine.GetOptions{
		{IfNoneMatch: rev2},
		{IfNoneMatch: rev2, AttEncodingInfo: true},
		{IfNoneMatch: rev2, Conflicts: true},
		{IfNoneMatch: rev1, Rev: rev1},
	} {
		got, err := e.Get(c, db, "doc", o)
		if !errors.Is(err, engine.ErrNotModified) || got != nil {
			t.Errorf("Get %+v = %s, %v; want no body and ErrNotModified", o, got, err)
		}
		if errors.Is(err, engine.ErrNotFound) {
			t.Errorf("Get %+v: %v is also not found", o, err)
		}
	}
	for _, o := range []engine.GetOptions{{IfNoneMatch: rev1}, {IfNoneMatch: "9-0123456789abcdef0123456789abcdef"}} {
		got, err := e.Get(c, db, "doc", o)
		if err != nil || doc(t, got)["_rev"] != rev2 || doc(t, got)["v"] != 2.0 {
			t.Errorf("Get %+v = %s, %v; want the document at %s", o, got, err, rev2)
		}
	}
	if got, err := e.Get(c, db, "doc", engine.GetOptions{Rev: rev1, IfNoneMatch: rev2}); err != nil || doc(t, got)["v"] != 1.0 {
		t.Errorf("Get at %s unless %s = %s, %v; want the old revision", rev1, rev2, got, err)
	}
	_, err := e.Get(c, db, "missing", engine.GetOptions{IfNoneMatch: rev2})
	wantErr(t, "Get of a missing id with IfNoneMatch", err, engine.ErrNotFound)
	del, err := e.Delete(c, db, "doc", rev2)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Get(c, db, "doc", engine.GetOptions{IfNoneMatch: del})
	wantErr(t, "Get of a deleted document with IfNoneMatch at its deletion", err, engine.ErrNotFound)
}

// viewsDesign has a view over typed documents, keyed as Kazoo keys its
// listings: [owner, state, modified].
const viewsDesign = `{"_id":"_design/t","language":"javascript","views":{
 "by_state":{"map":"function(doc){ if (doc.pvt_type != 'item') return; emit([doc.a, doc.s, doc.m], doc.n || null); }"},
 "by_name":{"map":"function(doc){ if (doc.name !== undefined) emit(doc.name, null); }"}
}}`

func views(t *testing.T, e engine.Engine, db string) {
	c := ctx(t)
	if _, err := e.Put(c, db, "_design/t", []byte(viewsDesign)); err != nil {
		t.Fatalf("design document: %v", err)
	}
	type item struct {
		id, a, s string
		m        int
	}
	items := []item{{"i1", "A", "submitted", 3}, {"i2", "A", "submitted", 1}, {"i3", "A", "completed", 2}, {"i4", "B", "submitted", 5}, {"i5", "A", "submitted", 2}}
	for _, it := range items {
		mustPut(t, e, db, it.id, fmt.Sprintf(`{"pvt_type":"item","a":%q,"s":%q,"m":%d,"n":%d}`, it.a, it.s, it.m, it.m*10))
	}
	mustPut(t, e, db, "other", `{"pvt_type":"other","a":"A","s":"submitted","m":0}`)
	rows := func(q engine.Query) (ids []string) {
		t.Helper()
		err := e.Query(c, db, "t", "by_state", q, func(r engine.Row) error {
			ids = append(ids, r.ID)
			if q.IncludeDocs && (r.Doc == nil || doc(t, r.Doc)["_id"] != r.ID) {
				t.Errorf("row %s: document %s", r.ID, r.Doc)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Query %+v: %v", q, err)
		}
		return ids
	}
	aSub := engine.Query{StartKey: []byte(`["A","submitted"]`), EndKey: []byte(`["A","submitted",{}]`)}
	if got := rows(aSub); !slices.Equal(got, []string{"i2", "i5", "i1"}) {
		t.Errorf("range [A submitted]..[A submitted {}]: %v, want [i2 i5 i1] (by modified)", got)
	}
	desc := engine.Query{StartKey: aSub.EndKey, EndKey: aSub.StartKey, Descending: true, Limit: 2, IncludeDocs: true}
	if got := rows(desc); !slices.Equal(got, []string{"i1", "i5"}) {
		t.Errorf("descending, limit 2: %v, want [i1 i5]", got)
	}
	if got := rows(engine.Query{StartKey: aSub.StartKey, EndKey: aSub.EndKey, Skip: 1, Limit: 1}); !slices.Equal(got, []string{"i5"}) {
		t.Errorf("skip 1 limit 1: %v, want [i5]", got)
	}
	if got := rows(engine.Query{Key: []byte(`["B","submitted",5]`)}); !slices.Equal(got, []string{"i4"}) {
		t.Errorf("key [B submitted 5]: %v", got)
	}
	if got := rows(engine.Query{StartKey: []byte(`["A","submitted",1]`), EndKey: []byte(`["A","submitted",3]`), ExclusiveEnd: true}); !slices.Equal(got, []string{"i2", "i5"}) {
		t.Errorf("exclusive end: %v, want [i2 i5]", got)
	}
	var value []byte
	_ = e.Query(c, db, "t", "by_state", engine.Query{Key: []byte(`["A","completed",2]`)}, func(r engine.Row) error {
		value = r.Value
		return nil
	})
	if string(value) != "20" {
		t.Errorf("emitted value %s, want 20", value)
	}
	// The view follows writes: an update moves the row, a deletion drops it.
	got, _ := e.Get(c, db, "i2", engine.GetOptions{})
	m := doc(t, got)
	m["s"] = "completed"
	b, _ := json.Marshal(m)
	mustPut(t, e, db, "i2", string(b))
	got, _ = e.Get(c, db, "i5", engine.GetOptions{})
	if _, err := e.Delete(c, db, "i5", doc(t, got)["_rev"].(string)); err != nil {
		t.Fatal(err)
	}
	if got := rows(aSub); !slices.Equal(got, []string{"i1"}) {
		t.Errorf("after moving i2 and deleting i5: %v, want [i1]", got)
	}
	// Strings collate as CouchDB collates them (ICU), not by code point.
	for i, n := range []string{"b", "B", "a", "é", "A", "ab", "10", "9"} {
		mustPut(t, e, db, fmt.Sprintf("n%d", i), fmt.Sprintf(`{"name":%q}`, n))
	}
	var names []string
	err := e.Query(c, db, "t", "by_name", engine.Query{}, func(r engine.Row) error {
		var s string
		_ = json.Unmarshal(r.Key, &s)
		names = append(names, s)
		return nil
	})
	want := []string{"10", "9", "a", "A", "ab", "b", "B", "é"}
	if deviations.CodePointCollation {
		want = []string{"10", "9", "A", "B", "a", "ab", "b", "é"}
	}
	if err != nil || !slices.Equal(names, want) {
		t.Errorf("by_name order %q (%v), want %q", names, err, want)
	}
	err = e.Query(c, db, "t", "missing", engine.Query{}, func(engine.Row) error { return nil })
	wantErr(t, "a missing view", err, engine.ErrNotFound)
	stop := errors.New("stop")
	n := 0
	err = e.Query(c, db, "t", "by_state", engine.Query{}, func(engine.Row) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("fn's error: %v after %d rows, want it back after 1", err, n)
	}
}

func changes(t *testing.T, e engine.Engine, db string) {
	c := ctx(t)
	rev := mustPut(t, e, db, "a", `{"v":1}`)
	mustPut(t, e, db, "b", `{"v":1}`)
	mustPut(t, e, db, "a", fmt.Sprintf(`{"_rev":%q,"v":2}`, rev))
	var seen []engine.Change
	err := e.Changes(c, db, engine.ChangesQuery{IncludeDocs: true}, func(ch engine.Change) error {
		seen = append(seen, ch)
		return nil
	})
	// Each document once, at its latest change. Oldest first holds on one
	// copy of a database; a CouchDB cluster merges its shards' feeds in no
	// set order, so the order is not part of the contract.
	byID := map[string]engine.Change{}
	for _, ch := range seen {
		byID[ch.ID] = ch
	}
	if err != nil || len(seen) != 2 || len(byID) != 2 || byID["b"].ID != "b" || !strings.HasPrefix(byID["a"].Rev, "2-") {
		t.Fatalf("Changes = %+v, %v: want a (at its second revision) and b, once each", seen, err)
	}
	if doc(t, byID["a"].Doc)["v"] != 2.0 {
		t.Errorf("change of a carries %s", byID["a"].Doc)
	}
	last := seen[len(seen)-1].Seq // covers every shard up to there
	got, _ := e.Get(c, db, "b", engine.GetOptions{})
	if _, err := e.Delete(c, db, "b", doc(t, got)["_rev"].(string)); err != nil {
		t.Fatal(err)
	}
	seen = nil
	if err := e.Changes(c, db, engine.ChangesQuery{Since: last}, func(ch engine.Change) error {
		seen = append(seen, ch)
		return nil
	}); err != nil || len(seen) != 1 || seen[0].ID != "b" || !seen[0].Deleted {
		t.Errorf("Changes since %s = %+v, %v: want b deleted", last, seen, err)
	}
	// A continuous feed delivers a change made after it started.
	cctx, cancel := context.WithTimeout(c, 20*time.Second)
	defer cancel()
	got2 := make(chan engine.Change, 1)
	go func() {
		_ = e.Changes(cctx, db, engine.ChangesQuery{Since: seen[0].Seq, Continuous: true}, func(ch engine.Change) error {
			got2 <- ch
			cancel()
			return nil
		})
	}()
	time.Sleep(200 * time.Millisecond)
	mustPut(t, e, db, "c", `{"v":1}`)
	select {
	case ch := <-got2:
		if ch.ID != "c" {
			t.Errorf("continuous change %+v, want c", ch)
		}
	case <-cctx.Done():
		// The callback cancels right after it hands its change over, so
		// both may be ready: the change decides.
		select {
		case ch := <-got2:
			if ch.ID != "c" {
				t.Errorf("continuous change %+v, want c", ch)
			}
		default:
			t.Errorf("continuous feed delivered nothing")
		}
	}
}

func oddIDs(t *testing.T, e engine.Engine, db string) {
	c := ctx(t)
	for _, id := range []string{"+12025550123", "a b", "a/b", "ü?#%&=", "numbers/+1202"} {
		rev := mustPut(t, e, db, id, `{"v":1}`)
		got, err := e.Get(c, db, id, engine.GetOptions{})
		if err != nil || doc(t, got)["_id"] != id {
			t.Errorf("id %q: Get = %s, %v", id, got, err)
			continue
		}
		if _, err := e.PutAttachment(c, db, id, rev, "a b+c?.pdf", "application/pdf", strings.NewReader("x")); err != nil {
			t.Errorf("id %q: attachment: %v", id, err)
		}
	}
}

// putRevision: a document stored at a chosen revision reads back at it,
// the same write again changes nothing, and over another revision the
// engine either adds a leaf (CouchDB: the live one wins over a deletion)
// or refuses with ErrConflict (one leaf per document) and keeps what it
// had.
func putRevision(t *testing.T, e engine.Engine, db string) {
	c := ctx(t)
	const rev = "1-00000000aaaaaaaaaaaaaaaaaaaaaaaa"
	doc := []byte(`{"_id":"fixed","_rev":"` + rev + `","v":1}`)
	for i := range 2 {
		if err := e.PutRevision(c, db, "fixed", doc); err != nil {
			t.Fatalf("PutRevision (write %d): %v", i+1, err)
		}
	}
	raw, err := e.Get(c, db, "fixed", engine.GetOptions{})
	if err != nil || !strings.Contains(string(raw), `"_rev":"`+rev+`"`) || !strings.Contains(string(raw), `"v":1`) {
		t.Fatalf("Get after PutRevision: %s, %v", raw, err)
	}
	if leaves, err := e.Leaves(c, db, "fixed"); err != nil || len(leaves) != 1 {
		t.Errorf("the same revision twice: %d leaves (%v), want 1", len(leaves), err)
	}
	if err := e.PutRevision(c, db, "norev", []byte(`{"v":1}`)); !errors.Is(err, engine.ErrBadRequest) {
		t.Errorf("PutRevision without _rev: %v, want %v", err, engine.ErrBadRequest)
	}

	// Over a deleted document.
	rev1 := mustPut(t, e, db, "gone", `{"v":1}`)
	if _, err := e.Delete(c, db, "gone", rev1); err != nil {
		t.Fatal(err)
	}
	err = e.PutRevision(c, db, "gone", []byte(`{"_id":"gone","_rev":"`+rev+`","v":2}`))
	raw, gerr := e.Get(c, db, "gone", engine.GetOptions{})
	switch {
	case err == nil:
		if gerr != nil || !strings.Contains(string(raw), `"_rev":"`+rev+`"`) {
			t.Errorf("over a deletion, the new live leaf: %s, %v", raw, gerr)
		}
	case errors.Is(err, engine.ErrConflict):
		if !errors.Is(gerr, engine.ErrNotFound) {
			t.Errorf("a refused PutRevision changed the document: %s, %v", raw, gerr)
		}
	default:
		t.Errorf("PutRevision over a deletion: %v", err)
	}
}
