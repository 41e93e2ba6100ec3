package couch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/couch"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

// TestRevisionChecksBatched sends many concurrent revision checks (Get
// with If-None-Match) of current, changed, deleted and missing documents:
// each must answer what it would alone, and some must have gone batched.
func TestRevisionChecksBatched(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e, err := couch.Open(ctx, couch.Options{URL: couchdbtest.URL(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	db := fmt.Sprintf("engine_test_revcheck_%d", time.Now().UnixNano())
	if err := e.CreateDB(ctx, db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.DeleteDB(context.Background(), db) })

	type doc struct {
		id, oldRev, rev string
		deleted         bool
	}
	var docs []*doc
	for i := range 30 {
		d := &doc{id: fmt.Sprintf("doc%02d", i)}
		rev, err := e.Put(ctx, db, d.id, []byte(`{"n":1}`))
		if err != nil {
			t.Fatal(err)
		}
		d.oldRev, d.rev = rev, rev
		switch {
		case i%3 == 1: // changed since the caller read it
			body, _ := json.Marshal(map[string]any{"_rev": rev, "n": 2})
			if d.rev, err = e.Put(ctx, db, d.id, body); err != nil {
				t.Fatal(err)
			}
		case i%5 == 2: // deleted since
			if _, err := e.Delete(ctx, db, d.id, rev); err != nil {
				t.Fatal(err)
			}
			d.deleted = true
		}
		docs = append(docs, d)
	}
	docs = append(docs, &doc{id: "never-written", oldRev: "1-0123456789abcdef0123456789abcdef", deleted: true})

	check := func(d *doc, rev string) error {
		raw, err := e.Get(ctx, db, d.id, engine.GetOptions{IfNoneMatch: rev})
		switch {
		case d.deleted:
			if !errors.Is(err, engine.ErrNotFound) {
				return fmt.Errorf("%s: got %v, want not found", d.id, err)
			}
		case rev == d.rev:
			if !errors.Is(err, engine.ErrNotModified) {
				return fmt.Errorf("%s at %s: got %v, want not modified", d.id, rev, err)
			}
		default:
			var got struct {
				Rev string `json:"_rev"`
			}
			if err != nil || json.Unmarshal(raw, &got) != nil || got.Rev != d.rev {
				return fmt.Errorf("%s at stale %s: got %s, %v; want the document at %s", d.id, rev, raw, err, d.rev)
			}
		}
		return nil
	}
	for round := 0; round < 20 && e.RevBatches(db) == 0 || round < 2; round++ {
		var wg sync.WaitGroup
		errs := make(chan error, 4*len(docs))
		for _, d := range docs {
			for _, rev := range []string{d.oldRev, d.rev, d.oldRev, d.rev} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := check(d, rev); err != nil {
						errs <- err
					}
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if t.Failed() {
			return
		}
	}
	if e.RevBatches(db) == 0 {
		t.Fatal("no revision check went batched")
	}

	// A caller that leaves is answered at once; the others are not held up.
	gone, stop := context.WithCancel(ctx)
	stop()
	if _, err := e.Get(gone, db, docs[0].id, engine.GetOptions{IfNoneMatch: docs[0].rev}); err == nil {
		t.Error("a canceled check answered without an error")
	}
	if err := check(docs[0], docs[0].rev); err != nil {
		t.Error(err)
	}
}

// TestKeyReadsBatched sends many concurrent view reads by one key, with
// and without documents, keys written in other JSON forms than the
// server's: each gets exactly the rows of its key, and some went batched.
func TestKeyReadsBatched(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e, err := couch.Open(ctx, couch.Options{URL: couchdbtest.URL(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	db := fmt.Sprintf("engine_test_keyreads_%d", time.Now().UnixNano())
	if err := e.CreateDB(ctx, db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.DeleteDB(context.Background(), db) })
	design := `{"views":{"by_group":{"map":"function(doc){ if (doc.g) { emit([doc.g, 1], doc.n); } }"}}}`
	if _, err := e.Put(ctx, db, "_design/t", []byte(design)); err != nil {
		t.Fatal(err)
	}
	// Group gN holds N documents (g0: none).
	want := map[int][]string{}
	for g := 1; g <= 6; g++ {
		for i := range g {
			id := fmt.Sprintf("g%d-%d", g, i)
			body, _ := json.Marshal(map[string]any{"g": fmt.Sprintf("g%d", g), "n": i})
			if _, err := e.Put(ctx, db, id, body); err != nil {
				t.Fatal(err)
			}
			want[g] = append(want[g], id)
		}
	}
	read := func(g int, docs bool) error {
		key := fmt.Appendf(nil, `[ "g%d" , 1.0 ]`, g) // the server writes ["gN",1]
		var got []string
		err := e.Query(ctx, db, "t", "by_group", engine.Query{Key: key, IncludeDocs: docs}, func(r engine.Row) error {
			if docs && !strings.Contains(string(r.Doc), `"_id":"`+r.ID+`"`) {
				return fmt.Errorf("row %s: document %s", r.ID, r.Doc)
			}
			if !docs && r.Doc != nil {
				return fmt.Errorf("row %s: a document without include_docs", r.ID)
			}
			got = append(got, r.ID)
			return nil
		})
		if err != nil {
			return err
		}
		if !slices.Equal(got, want[g]) {
			return fmt.Errorf("key g%d (docs %v): rows %v, want %v", g, docs, got, want[g])
		}
		return nil
	}
	for round := 0; round < 20 && e.KeyBatches(db) == 0 || round < 2; round++ {
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := read(i%7, i%2 == 0); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if t.Failed() {
			return
		}
	}
	if e.KeyBatches(db) == 0 {
		t.Fatal("no key read went batched")
	}
}
