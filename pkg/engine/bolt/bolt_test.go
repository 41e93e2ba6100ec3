package bolt_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/bolt"
	"github.com/portreqd/portreqd/pkg/engine/collate"
	"github.com/portreqd/portreqd/pkg/engine/enginetest"
	"github.com/portreqd/portreqd/pkg/engine/jsview"
)

// TestContract runs the engine contract, each case on a fresh file.
func TestContract(t *testing.T) {
	enginetest.Run(t, func(t *testing.T) (engine.Engine, string) {
		e, err := bolt.Open(filepath.Join(t.TempDir(), "engine.db"), bolt.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return e, "t_"
	})
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return c
}

func open(t testing.TB, path string, o bolt.Options) *bolt.Engine {
	t.Helper()
	e, err := bolt.Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// fresh opens a new engine with database "db".
func fresh(t testing.TB, o bolt.Options) *bolt.Engine {
	t.Helper()
	e := open(t, filepath.Join(t.TempDir(), "engine.db"), o)
	if err := e.CreateDB(ctx(t), "db"); err != nil {
		t.Fatal(err)
	}
	return e
}

func put(t testing.TB, e *bolt.Engine, id, body string) string {
	t.Helper()
	rev, err := e.Put(ctx(t), "db", id, []byte(body))
	if err != nil {
		t.Fatalf("Put %s %s: %v", id, body, err)
	}
	return rev
}

func get(t testing.TB, e *bolt.Engine, id string) map[string]any {
	t.Helper()
	raw, err := e.Get(ctx(t), "db", id, engine.GetOptions{})
	if err != nil {
		t.Fatalf("Get %s: %v", id, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("Get %s: %s: %v", id, raw, err)
	}
	return m
}

func rows(t testing.TB, e *bolt.Engine, design, view string, q engine.Query) []engine.Row {
	t.Helper()
	var out []engine.Row
	if err := e.Query(ctx(t), "db", design, view, q, func(r engine.Row) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatalf("Query %s/%s %+v: %v", design, view, q, err)
	}
	return out
}

func ids(rs []engine.Row) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

const typedDesign = `{"views":{
 "by_type":{"map":"function(doc){ if (doc.type) emit([doc.type, doc.n], doc.n); }","reduce":"_sum"},
 "count":{"map":"function(doc){ if (doc.type) emit(doc.type, 1); }","reduce":"_count"},
 "stats":{"map":"function(doc){ if (doc.type) emit(doc.type, doc.n); }","reduce":"_stats"}
}}`

// TestReopen: documents, revisions, attachments, views and sequences
// survive Close and Open.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "engine.db")
	e, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := ctx(t)
	if err := e.CreateDB(c, "db"); err != nil {
		t.Fatal(err)
	}
	put(t, e, "_design/t", typedDesign)
	rev1 := put(t, e, "a", `{"type":"x","n":1}`)
	rev2 := put(t, e, "a", fmt.Sprintf(`{"_rev":%q,"type":"x","n":2}`, rev1))
	put(t, e, "b", `{"type":"y","n":5}`)
	revC := put(t, e, "c", `{"type":"x","n":3}`)
	if _, err := e.Delete(c, "db", "c", revC); err != nil {
		t.Fatal(err)
	}
	revA, err := e.PutAttachment(c, "db", "a", rev2, "f.txt", "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	var lastSeq string
	_ = e.Changes(c, "db", engine.ChangesQuery{}, func(ch engine.Change) error { lastSeq = ch.Seq; return nil })
	before := rows(t, e, "t", "by_type", engine.Query{})
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	e = open(t, path, bolt.Options{})
	if m := get(t, e, "a"); m["_rev"] != revA || m["n"] != 2.0 {
		t.Errorf("a after reopen: %v", m)
	}
	if old, err := e.Get(c, "db", "a", engine.GetOptions{Rev: rev1}); err != nil || !bytes.Contains(old, []byte(`"n":1`)) {
		t.Errorf("old revision after reopen: %s, %v", old, err)
	}
	leaves, err := e.Leaves(c, "db", "a")
	if err != nil || len(leaves) != 1 || !slices.Equal(leaves[0].Ancestors, []string{revA, rev2, rev1}) {
		t.Errorf("Leaves after reopen: %+v, %v", leaves, err)
	}
	if _, err := e.Get(c, "db", "c", engine.GetOptions{}); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("deleted c after reopen: %v", err)
	}
	att, err := e.GetAttachment(c, "db", "a", "f.txt")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(att.Body)
	att.Body.Close()
	if string(body) != "hello" || att.Digest != "md5-XUFAKrxLKna5cZ2REBfFkg==" {
		t.Errorf("attachment after reopen: %q %s", body, att.Digest)
	}
	after := rows(t, e, "t", "by_type", engine.Query{})
	if fmt.Sprint(after) != fmt.Sprint(before) || len(after) != 2 {
		t.Errorf("view after reopen: %v, before %v", after, before)
	}
	put(t, e, "d", `{"type":"y","n":7}`)
	var seen []engine.Change
	_ = e.Changes(c, "db", engine.ChangesQuery{Since: lastSeq}, func(ch engine.Change) error { seen = append(seen, ch); return nil })
	if len(seen) != 1 || seen[0].ID != "d" {
		t.Errorf("changes after reopen since %s: %+v", lastSeq, seen)
	}
	if got := ids(rows(t, e, "t", "by_type", engine.Query{StartKey: []byte(`["y"]`), EndKey: []byte(`["y",{}]`)})); !slices.Equal(got, []string{"b", "d"}) {
		t.Errorf("view maintained after reopen: %v", got)
	}
}

// TestWriteRules: what the contract does not spell out of CouchDB's rules.
func TestWriteRules(t *testing.T) {
	e := fresh(t, bolt.Options{NoSync: true})
	c := ctx(t)
	for _, id := range []string{"_foo", "_local/x", "", "_design/"} {
		if _, err := e.Put(c, "db", id, []byte(`{}`)); !errors.Is(err, engine.ErrBadRequest) {
			t.Errorf("Put %q: %v, want bad request", id, err)
		}
	}
	for _, body := range []string{`[]`, `{"a":1} x`, `{"_foo":1}`, `{"_attachments":{"x":{"content_type":"a/b"}}}`, `not json`,
		`{"_attachments":{"x":{"data":"!!"}}}`} {
		if _, err := e.Put(c, "db", "x", []byte(body)); !errors.Is(err, engine.ErrBadRequest) {
			t.Errorf("Put %s: %v, want bad request", body, err)
		}
	}
	if _, err := e.Put(c, "db", "x", []byte(`{"_rev":"1-0123456789abcdef0123456789abcdef"}`)); !errors.Is(err, engine.ErrConflict) {
		t.Errorf("update of a missing document: %v, want conflict", err)
	}
	// Inline attachments, then a stub keeps it and a missing stub conflicts.
	data := base64.StdEncoding.EncodeToString([]byte("inline body"))
	rev := put(t, e, "x", `{"v":1,"_attachments":{"a.txt":{"content_type":"text/plain","data":"`+data+`"}}}`)
	m := get(t, e, "x")
	stub := m["_attachments"].(map[string]any)["a.txt"].(map[string]any)
	sum := md5.Sum([]byte("inline body"))
	if stub["stub"] != true || stub["length"] != 11.0 || stub["revpos"] != 1.0 || stub["digest"] != "md5-"+base64.StdEncoding.EncodeToString(sum[:]) {
		t.Errorf("inline attachment stub: %v", stub)
	}
	if _, err := e.Put(c, "db", "x", []byte(fmt.Sprintf(`{"_rev":%q,"_attachments":{"zz":{"stub":true}}}`, rev))); !errors.Is(err, engine.ErrConflict) {
		t.Errorf("missing stub: %v, want conflict", err)
	}
	rev = put(t, e, "x", fmt.Sprintf(`{"_rev":%q,"v":2,"_attachments":{"a.txt":{"stub":true}}}`, rev))
	a, err := e.GetAttachment(c, "db", "x", "a.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(a.Body)
	a.Body.Close()
	if string(b) != "inline body" || a.ContentType != "text/plain" || a.Length != 11 {
		t.Errorf("inline attachment: %q %+v", b, a)
	}
	// A deletion through Put keeps its members in the tombstone.
	del := put(t, e, "x", fmt.Sprintf(`{"_rev":%q,"_deleted":true,"why":"gone"}`, rev))
	if tomb, err := e.Get(c, "db", "x", engine.GetOptions{Rev: del}); err != nil || !bytes.Contains(tomb, []byte(`"why":"gone"`)) || !bytes.Contains(tomb, []byte(`"_deleted":true`)) {
		t.Errorf("tombstone: %s, %v", tomb, err)
	}
	if _, err := e.GetAttachment(c, "db", "x", "a.txt"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("attachment of a deleted document: %v", err)
	}
	// Old revisions: the last keptRevisions (4) before the current one.
	revs := []string{put(t, e, "h", `{"i":0}`)}
	for i := 1; i <= 6; i++ {
		revs = append(revs, put(t, e, "h", fmt.Sprintf(`{"_rev":%q,"i":%d}`, revs[i-1], i)))
	}
	for i, r := range revs {
		_, err := e.Get(c, "db", "h", engine.GetOptions{Rev: r})
		if kept := i >= len(revs)-5; kept != (err == nil) {
			t.Errorf("revision %d of 7: %v", i+1, err)
		}
	}
	// Member order and odd strings survive.
	put(t, e, "o", `{"z":1,"a":"<&>\u2028","m":[1,2.50,1e3]}`)
	raw, _ := e.Get(c, "db", "o", engine.GetOptions{})
	if !bytes.HasSuffix(raw, []byte(`"z":1,"a":"<&>\u2028","m":[1,2.50,1e3]}`)) {
		t.Errorf("stored body %s", raw)
	}
	// Bulk: one bad document does not fail the others; no _id gets one.
	res, err := e.Bulk(c, "db", [][]byte{[]byte(`{"v":1}`), []byte(`[1]`), []byte(`{"_id":"_bad"}`)})
	if err != nil || len(res) != 3 || res[0].Err != nil || len(res[0].ID) != 32 || !errors.Is(res[1].Err, engine.ErrBadRequest) || !errors.Is(res[2].Err, engine.ErrBadRequest) {
		t.Errorf("Bulk: %+v, %v", res, err)
	}
	// Design documents that do not compile are refused.
	if _, err := e.Put(c, "db", "_design/bad", []byte(`{"views":{"v":{"map":"function(doc){ emit( }"}}}`)); !errors.Is(err, engine.ErrBadRequest) {
		t.Errorf("design with a syntax error: %v", err)
	}
	if err := e.CreateDB(c, "Bad"); !errors.Is(err, engine.ErrBadRequest) {
		t.Errorf("CreateDB Bad: %v", err)
	}
}

// TestRevsLimit: the ancestry keeps CouchDB's 1000 revisions.
func TestRevsLimit(t *testing.T) {
	e := fresh(t, bolt.Options{NoSync: true})
	rev := put(t, e, "d", `{"i":0}`)
	for i := 1; i < 1005; i++ {
		rev = put(t, e, "d", fmt.Sprintf(`{"_rev":%q,"i":%d}`, rev, i))
	}
	leaves, err := e.Leaves(ctx(t), "db", "d")
	if err != nil || len(leaves) != 1 {
		t.Fatal(leaves, err)
	}
	anc := leaves[0].Ancestors
	if len(anc) != 1000 || anc[0] != rev || !strings.HasPrefix(anc[0], "1005-") || !strings.HasPrefix(anc[999], "6-") {
		t.Errorf("ancestry: %d revisions, %s … %s", len(anc), anc[0], anc[len(anc)-1])
	}
}

// TestReduce: _count, _sum and _stats with group and group_level, keys,
// skip and limit on groups; with reduce batches smaller than the groups,
// so that partial results are combined.
func TestReduce(t *testing.T) {
	e := fresh(t, bolt.Options{NoSync: true})
	put(t, e, "_design/t", typedDesign)
	const n = 600
	var docs [][]byte
	for i := range n {
		docs = append(docs, []byte(fmt.Sprintf(`{"_id":"d%04d","type":%q,"n":%d}`, i, []string{"a", "b", "c"}[i%3], i%10)))
	}
	if _, err := e.Bulk(ctx(t), "db", docs); err != nil {
		t.Fatal(err)
	}
	red := func(view string, q engine.Query) string {
		q.Reduce = true
		var parts []string
		for _, r := range rows(t, e, "t", view, q) {
			parts = append(parts, string(r.Key)+"="+string(r.Value))
		}
		return strings.Join(parts, " ")
	}
	sum := map[string]int{}
	sumsq := map[string]int{}
	for i := range n {
		sum[[]string{"a", "b", "c"}[i%3]] += i % 10
		sumsq[[]string{"a", "b", "c"}[i%3]] += (i % 10) * (i % 10)
	}
	for _, batch := range []int{1024, 7, 2} {
		restore := bolt.SetReduceBatch(batch)
		if got := red("count", engine.Query{}); got != "null=600" {
			t.Errorf("batch %d: _count: %s", batch, got)
		}
		if got := red("count", engine.Query{Group: true}); got != `"a"=200 "b"=200 "c"=200` {
			t.Errorf("batch %d: _count grouped: %s", batch, got)
		}
		if got := red("count", engine.Query{Group: true, Descending: true, Skip: 1, Limit: 1}); got != `"b"=200` {
			t.Errorf("batch %d: _count grouped, descending, skip 1 limit 1: %s", batch, got)
		}
		if got := red("count", engine.Query{Group: true, Keys: [][]byte{[]byte(`"c"`), []byte(`"a"`), []byte(`"c"`), []byte(`"x"`)}}); got != `"c"=200 "a"=200 "c"=200` {
			t.Errorf("batch %d: _count by keys: %s", batch, got)
		}
		if got, want := red("by_type", engine.Query{GroupLevel: 1}), fmt.Sprintf(`["a"]=%d ["b"]=%d ["c"]=%d`, sum["a"], sum["b"], sum["c"]); got != want {
			t.Errorf("batch %d: _sum group_level 1: %s, want %s", batch, got, want)
		}
		if got := red("by_type", engine.Query{StartKey: []byte(`["a",9]`), EndKey: []byte(`["a",9]`), GroupLevel: 2}); got != `["a",9]=180` {
			t.Errorf("batch %d: _sum of one group: %s", batch, got)
		}
		if got, want := red("stats", engine.Query{Key: []byte(`"b"`)}), fmt.Sprintf(`null={"sum":%d,"count":200,"min":0,"max":9,"sumsqr":%d}`, sum["b"], sumsq["b"]); got != want {
			t.Errorf("batch %d: _stats: %s, want %s", batch, got, want)
		}
		restore()
	}
	// A reduce view read without reduce lists rows; include_docs with
	// reduce is refused.
	if n := len(rows(t, e, "t", "count", engine.Query{Limit: 7})); n != 7 {
		t.Errorf("map rows of a reduce view: %d", n)
	}
	err := e.Query(ctx(t), "db", "t", "count", engine.Query{Reduce: true, IncludeDocs: true}, func(engine.Row) error { return nil })
	if !errors.Is(err, engine.ErrBadRequest) {
		t.Errorf("include_docs with reduce: %v", err)
	}
	// A map-only view asked to reduce lists rows (as CouchDB does when
	// reduce is not given).
	put(t, e, "_design/m", `{"views":{"v":{"map":"function(doc){ emit(doc.n, null); }"}}}`)
	if got := rows(t, e, "m", "v", engine.Query{Reduce: true, Limit: 3}); len(got) != 3 {
		t.Errorf("map-only view with Reduce: %v", got)
	}
}

// TestChangesFeed: limit, since now, continuous until the context ends.
func TestChangesFeed(t *testing.T) {
	e := fresh(t, bolt.Options{NoSync: true})
	c := ctx(t)
	for i := range 600 { // more than a page
		put(t, e, fmt.Sprintf("d%03d", i), `{}`)
	}
	n := 0
	if err := e.Changes(c, "db", engine.ChangesQuery{Limit: 300}, func(engine.Change) error { n++; return nil }); err != nil || n != 300 {
		t.Errorf("limit 300: %d changes, %v", n, err)
	}
	var all []engine.Change
	_ = e.Changes(c, "db", engine.ChangesQuery{}, func(ch engine.Change) error { all = append(all, ch); return nil })
	if len(all) != 600 || all[599].ID != "d599" {
		t.Fatalf("all changes: %d", len(all))
	}
	cctx, cancel := context.WithCancel(c)
	got := make(chan string, 10)
	done := make(chan error)
	go func() {
		// Since the last change seen, not "now": the writes below may land
		// before the feed starts, and must be delivered all the same.
		done <- e.Changes(cctx, "db", engine.ChangesQuery{Since: all[599].Seq, Continuous: true}, func(ch engine.Change) error {
			got <- ch.ID
			return nil
		})
	}()
	put(t, e, "new1", `{}`)
	put(t, e, "new2", `{}`)
	for _, want := range []string{"new1", "new2"} {
		select {
		case id := <-got:
			if id != want {
				t.Errorf("continuous: %s, want %s", id, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("continuous feed delivered nothing")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("continuous feed ended with %v, want nil", err)
	}
}

// TestConcurrent: writers (creates, updates with conflicts, deletions,
// attachments, bulk) and readers (Get, views, _all_docs, changes) at once;
// afterwards the view matches the documents.
func TestConcurrent(t *testing.T) {
	e := fresh(t, bolt.Options{})
	c := ctx(t)
	put(t, e, "_design/t", typedDesign)
	const writers, readers, docs, rounds = 6, 4, 20, 40
	var wg sync.WaitGroup
	var conflicts atomic.Int64
	stop := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range rounds {
				id := fmt.Sprintf("d%02d", r.IntN(docs))
				raw, err := e.Get(c, "db", id, engine.GetOptions{})
				var rev string
				if err == nil {
					var m map[string]any
					_ = json.Unmarshal(raw, &m)
					rev = m["_rev"].(string)
				}
				switch op := r.IntN(10); {
				case op < 6:
					body := fmt.Sprintf(`{"type":"t%d","n":%d}`, r.IntN(3), r.IntN(100))
					if rev != "" {
						body = fmt.Sprintf(`{"_rev":%q,"type":"t%d","n":%d}`, rev, r.IntN(3), r.IntN(100))
					}
					_, err = e.Put(c, "db", id, []byte(body))
				case op < 8 && rev != "":
					_, err = e.Delete(c, "db", id, rev)
				case op < 9 && rev != "":
					_, err = e.PutAttachment(c, "db", id, rev, "a", "text/plain", strings.NewReader(strings.Repeat("x", r.IntN(200000))))
				default:
					var res []engine.Result
					res, err = e.Bulk(c, "db", [][]byte{[]byte(fmt.Sprintf(`{"_id":"b%d","type":"t0","n":1}`, r.IntN(docs)))})
					if err == nil && res[0].Err != nil {
						err = res[0].Err
					}
				}
				if errors.Is(err, engine.ErrConflict) {
					conflicts.Add(1)
				} else if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		}()
	}
	var rg sync.WaitGroup
	for i := range readers {
		rg.Add(1)
		go func() {
			defer rg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				switch i % 4 {
				case 0:
					err = e.Query(c, "db", "t", "by_type", engine.Query{IncludeDocs: true, Limit: 30}, func(engine.Row) error { return nil })
				case 1:
					err = e.AllDocs(c, "db", engine.Query{IncludeDocs: true}, func(engine.Row) error { return nil })
				case 2:
					err = e.Changes(c, "db", engine.ChangesQuery{IncludeDocs: true}, func(engine.Change) error { return nil })
				case 3:
					var a *engine.Attachment
					if a, err = e.GetAttachment(c, "db", fmt.Sprintf("d%02d", i), "a"); err == nil {
						_, err = io.Copy(io.Discard, a.Body)
						a.Body.Close()
					} else if errors.Is(err, engine.ErrNotFound) {
						err = nil
					}
				}
				if err != nil {
					t.Errorf("reader %d: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	rg.Wait()
	t.Logf("%d conflicts", conflicts.Load())
	checkView(t, e, typedDesign, "by_type")
}

// checkView compares every row of view with a brute-force mapping of the
// current documents (through jsview, sorted by collate.Compare and id).
func checkView(t *testing.T, e *bolt.Engine, design, view string) []engine.Row {
	t.Helper()
	d, err := jsview.Compile([]byte(`{"_id":"_design/t",` + design[1:]))
	if err != nil {
		t.Fatal(err)
	}
	var want []engine.Row
	err = e.AllDocs(ctx(t), "db", engine.Query{IncludeDocs: true}, func(r engine.Row) error {
		rs, err := d.Map(view, r.Doc)
		for _, x := range rs {
			want = append(want, engine.Row{ID: x.ID, Key: x.Key, Value: x.Value})
		}
		if err != nil && !isMapError(err) {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortStableFunc(want, func(a, b engine.Row) int {
		if c := collate.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	got := rows(t, e, "t", view, engine.Query{})
	if len(got) != len(want) {
		t.Fatalf("view %s: %d rows, brute force %d", view, len(got), len(want))
	}
	for i := range got {
		if got[i].ID != want[i].ID || !bytes.Equal(got[i].Key, want[i].Key) || !bytes.Equal(got[i].Value, want[i].Value) {
			t.Fatalf("view %s row %d: %s %s %s, brute force %s %s %s", view, i, got[i].ID, got[i].Key, got[i].Value, want[i].ID, want[i].Key, want[i].Value)
		}
	}
	return want
}

func isMapError(err error) bool {
	var me *jsview.MapError
	return errors.As(err, &me)
}

// mixedDesign emits keys of every JSON type, several rows per document,
// the same key twice from one document, and keys that collate equal.
const mixedDesign = `{"views":{"mixed":{"map":"function(doc){ if (doc.k !== undefined) emit(doc.k, doc.v); if (doc.tags) doc.tags.forEach(function(t){ emit(t, doc._id); }); }"}}}`

var keyPool = []string{`null`, `false`, `true`, `0`, `-1.5`, `1`, `2`, `10`, `1e3`, `"a"`, `"A"`, `"b"`, `"ab"`, `"é"`, `"B"`, `"a\u0001"`,
	`""`, `[]`, `["a"]`, `["a",1]`, `["a",1,{}]`, `["b"]`, `{}`, `{"a":1}`, `[[1]]`, `"\u0000"`, `"z"`}

// TestViewRandom: after many random updates and deletions the view's rows
// are exactly the brute-force mapping of the current documents, and range
// queries (start/end keys and doc ids, inclusive or not, descending,
// skip, limit) answer what filtering the brute-force rows answers.
func TestViewRandom(t *testing.T) {
	e := fresh(t, bolt.Options{NoSync: true})
	c := ctx(t)
	put(t, e, "_design/t", mixedDesign)
	r := rand.New(rand.NewPCG(7, 7))
	revs := map[string]string{}
	for range 1500 {
		id := fmt.Sprintf("d%02d", r.IntN(60))
		if rev, ok := revs[id]; ok && r.IntN(5) == 0 {
			if _, err := e.Delete(c, "db", id, rev); err != nil {
				t.Fatal(err)
			}
			delete(revs, id)
			continue
		}
		var tags []string
		for range r.IntN(4) {
			tags = append(tags, keyPool[r.IntN(len(keyPool))])
		}
		body := fmt.Sprintf(`{"v":%d,"tags":[%s]`, r.IntN(5), strings.Join(tags, ","))
		if r.IntN(4) > 0 {
			body += `,"k":` + keyPool[r.IntN(len(keyPool))]
		}
		if rev, ok := revs[id]; ok {
			body += fmt.Sprintf(`,"_rev":%q`, rev)
		}
		revs[id] = put(t, e, id, body+"}")
	}
	all := checkView(t, e, mixedDesign, "mixed")
	// CouchDB's bounds: ascending, start (sk, sdoc) keeps rows ≥ (sk, sdoc
	// or the smallest id), end (ek, edoc) keeps rows ≤ (ek, edoc or the
	// largest id), or < (ek, edoc or the smallest id) when exclusive;
	// descending, start keeps rows ≤ (sk, sdoc or the largest id), end
	// keeps rows ≥ (ek, edoc or the smallest), or > (ek, edoc or the
	// largest) when exclusive.
	cmp := func(row engine.Row, key []byte, id string, idDefaultMax bool) int {
		if c := collate.Compare(row.Key, key); c != 0 {
			return c
		}
		switch {
		case id != "":
			return strings.Compare(row.ID, id)
		case idDefaultMax:
			return -1
		}
		return 1
	}
	for i := range 2000 {
		q := engine.Query{Descending: r.IntN(2) == 0, ExclusiveEnd: r.IntN(3) == 0, Skip: r.IntN(3), Limit: r.IntN(8)}
		// Bounds: a key of the pool, or the key and id of an existing row
		// (so that bounds on ids meet rows).
		bound := func() ([]byte, string) {
			if r.IntN(2) == 0 {
				row := all[r.IntN(len(all))]
				return row.Key, []string{"", row.ID, fmt.Sprintf("d%02d", r.IntN(60))}[r.IntN(3)]
			}
			return []byte(keyPool[r.IntN(len(keyPool))]), []string{"", "", fmt.Sprintf("d%02d", r.IntN(60))}[r.IntN(3)]
		}
		sk, sdoc := bound()
		ek, edoc := bound()
		if c := collate.Compare(sk, ek); (c > 0 && !q.Descending) || (c < 0 && q.Descending) {
			sk, ek, sdoc, edoc = ek, sk, edoc, sdoc
		}
		if r.IntN(5) > 0 {
			q.StartKey, q.StartKeyDocID = sk, sdoc
		}
		if r.IntN(5) > 0 {
			q.EndKey, q.EndKeyDocID = ek, edoc
		}
		if r.IntN(10) == 0 {
			q = engine.Query{Key: sk, Descending: q.Descending, Limit: q.Limit}
			q.StartKey, q.EndKey = nil, nil
		}
		start, end := q.StartKey, q.EndKey
		if q.Key != nil {
			start, end = q.Key, q.Key
		}
		src := slices.Clone(all)
		if q.Descending {
			slices.Reverse(src)
		}
		var want []engine.Row
		for _, row := range src {
			if start != nil {
				if c := cmp(row, start, q.StartKeyDocID, q.Descending); (!q.Descending && c < 0) || (q.Descending && c > 0) {
					continue
				}
			}
			if end != nil {
				if !q.Descending {
					c := cmp(row, end, q.EndKeyDocID, !q.ExclusiveEnd)
					if c > 0 || (q.ExclusiveEnd && c == 0) {
						continue
					}
				} else {
					c := cmp(row, end, q.EndKeyDocID, q.ExclusiveEnd)
					if c < 0 || (q.ExclusiveEnd && c == 0) {
						continue
					}
				}
			}
			want = append(want, row)
		}
		want = want[min(q.Skip, len(want)):]
		if q.Limit > 0 && len(want) > q.Limit {
			want = want[:q.Limit]
		}
		got := rows(t, e, "t", "mixed", q)
		if len(got) != len(want) || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("query %d %+v:\n got %v\nwant %v", i, q, got, want)
		}
	}
	// Keys: the rows of each key, in the order of the keys.
	var keys [][]byte
	var want []engine.Row
	for range 6 {
		k := []byte(keyPool[r.IntN(len(keyPool))])
		keys = append(keys, k)
		for _, row := range all {
			if collate.Compare(row.Key, k) == 0 {
				want = append(want, row)
			}
		}
	}
	if got := rows(t, e, "t", "mixed", engine.Query{Keys: keys}); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("keys %s:\n got %v\nwant %v", keys, got, want)
	}
}

// TestBigAttachment: 64 MB up and down with bounded memory.
func TestBigAttachment(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MB")
	}
	e := fresh(t, bolt.Options{})
	c := ctx(t)
	rev := put(t, e, "big", `{}`)
	const size = 64 << 20
	var peak atomic.Uint64
	var base runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	up := md5.New()
	start := time.Now()
	rev, err := e.PutAttachment(c, "db", "big", rev, "big.bin", "application/octet-stream", io.TeeReader(io.LimitReader(newStream(1), size), up))
	if err != nil {
		t.Fatal(err)
	}
	upTime := time.Since(start)
	att, err := e.GetAttachment(c, "db", "big", "big.bin")
	if err != nil {
		t.Fatal(err)
	}
	down := md5.New()
	start = time.Now()
	n, err := io.Copy(down, att.Body)
	att.Body.Close()
	downTime := time.Since(start)
	close(stopSampling)
	<-sampled
	if err != nil || n != size || att.Length != size || !bytes.Equal(up.Sum(nil), down.Sum(nil)) {
		t.Fatalf("download: %d bytes, %v; length %d", n, err, att.Length)
	}
	if want := "md5-" + base64.StdEncoding.EncodeToString(up.Sum(nil)); att.Digest != want {
		t.Errorf("digest %s, want %s", att.Digest, want)
	}
	growth := int64(peak.Load()) - int64(base.HeapAlloc)
	t.Logf("64 MiB: upload %v, download %v, peak heap growth %.1f MiB", upTime, downTime, float64(growth)/(1<<20))
	if growth > 32<<20 {
		t.Errorf("heap grew by %d MiB, want < 32", growth>>20)
	}
	if m := get(t, e, "big"); m["_rev"] != rev {
		t.Errorf("document %v", m)
	}
}

// stream is a deterministic pseudo-random byte stream.
type stream struct{ r *rand.ChaCha8 }

func newStream(seed byte) io.Reader {
	var s [32]byte
	s[0] = seed
	return &stream{rand.NewChaCha8(s)}
}

func (s *stream) Read(p []byte) (int, error) { return s.r.Read(p) }

// TestSharedDesign: the same design document in two databases (its views
// compiled once) indexes each database's own documents.
func TestSharedDesign(t *testing.T) {
	e := fresh(t, bolt.Options{NoSync: true})
	c := ctx(t)
	if err := e.CreateDB(c, "db2"); err != nil {
		t.Fatal(err)
	}
	for _, db := range []string{"db", "db2"} {
		if _, err := e.Put(c, db, "_design/t", []byte(typedDesign)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Put(c, db, "in_"+db, []byte(`{"type":"x","n":1}`)); err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := e.Get(c, "db", "_design/t", engine.GetOptions{})
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if _, err := e.Delete(c, "db", "_design/t", m["_rev"].(string)); err != nil {
		t.Fatal(err)
	}
	if err := e.Query(c, "db", "t", "by_type", engine.Query{}, func(engine.Row) error { return nil }); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("query of a deleted design: %v", err)
	}
	var got []string
	if err := e.Query(c, "db2", "t", "by_type", engine.Query{}, func(r engine.Row) error { got = append(got, r.ID); return nil }); err != nil || !slices.Equal(got, []string{"in_db2"}) {
		t.Errorf("db2: %v, %v", got, err)
	}
}

// TestAllDocsRanges: descending, inclusive_end=false, skip, key, and keys
// that are not strings (they sort before every id).
func TestAllDocsRanges(t *testing.T) {
	e := fresh(t, bolt.Options{NoSync: true})
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		put(t, e, id, `{}`)
	}
	list := func(q engine.Query) string {
		var out []string
		if err := e.AllDocs(ctx(t), "db", q, func(r engine.Row) error {
			out = append(out, r.ID)
			if r.Doc != nil || !bytes.HasPrefix(r.Value, []byte(`{"rev":"1-`)) || string(r.Key) != `"`+r.ID+`"` {
				t.Errorf("row %+v", r)
			}
			return nil
		}); err != nil {
			return err.Error()
		}
		return strings.Join(out, "")
	}
	for _, c := range []struct {
		q    engine.Query
		want string
	}{
		{engine.Query{}, "abcde"},
		{engine.Query{StartKey: []byte(`"b"`), EndKey: []byte(`"d"`)}, "bcd"},
		{engine.Query{StartKey: []byte(`"b"`), EndKey: []byte(`"d"`), ExclusiveEnd: true}, "bc"},
		{engine.Query{StartKey: []byte(`"d"`), EndKey: []byte(`"b"`), Descending: true}, "dcb"},
		{engine.Query{StartKey: []byte(`"d"`), EndKey: []byte(`"b"`), Descending: true, ExclusiveEnd: true}, "dc"},
		{engine.Query{Descending: true, Skip: 1, Limit: 2}, "dc"},
		{engine.Query{Key: []byte(`"c"`)}, "c"},
		{engine.Query{StartKey: []byte(`1`), EndKey: []byte(`"b"`)}, "ab"},
		{engine.Query{EndKey: []byte(`null`)}, ""},
		{engine.Query{StartKey: []byte(`"bb"`)}, "cde"},
	} {
		if got := list(c.q); got != c.want {
			t.Errorf("%+v: %s, want %s", c.q, got, c.want)
		}
	}
	err := e.AllDocs(ctx(t), "db", engine.Query{StartKey: []byte(`"d"`), EndKey: []byte(`"b"`)}, func(engine.Row) error { return nil })
	if !errors.Is(err, engine.ErrBadRequest) {
		t.Errorf("reversed range: %v", err)
	}
}
