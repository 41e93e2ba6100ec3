package couchstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	kivik "github.com/go-kivik/kivik/v4"
	_ "github.com/go-kivik/kivik/v4/couchdb"

	"github.com/portreqd/portreqd/pkg/couchstore"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

var (
	testSeq   atomic.Int64
	described atomic.Bool
)

// env is one test's server, database prefix and store.
type env struct {
	url, prefix string
	store       *couchstore.Store
	raw         *kivik.Client // bypasses the store to inspect and plant documents
}

// newEnv opens a store on databases of the test's own, removed afterwards.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := bareEnv(t)
	e.store = e.open(t)
	return e
}

// bareEnv is newEnv before the first Open: no database exists yet. Every
// database under the test's prefix is destroyed when the test ends,
// those the store creates on demand (numbers/…, monthly ledgers) too.
func bareEnv(t *testing.T) *env {
	t.Helper()
	url := couchdbtest.URL(t)
	if !described.Swap(true) {
		t.Logf("CouchDB: %s", couchdbtest.Describe())
	}
	e := &env{url: url, prefix: fmt.Sprintf("%s%d_", couchdbtest.Prefix(), testSeq.Add(1))}
	raw, err := kivik.New("couch", url)
	if err != nil {
		t.Fatalf("kivik.New: %v", err)
	}
	e.raw = raw
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		dbs, err := raw.AllDBs(ctx)
		if err != nil {
			t.Logf("list databases: %v", err)
		}
		for _, db := range dbs {
			if !strings.HasPrefix(db, e.prefix) {
				continue
			}
			if err := raw.DestroyDB(ctx, db); err != nil && kivik.HTTPStatus(err) != 404 {
				t.Logf("destroy %s: %v", db, err)
			}
		}
		_ = raw.Close()
	})
	return e
}

// open opens one more store on the test's databases.
func (e *env) open(t *testing.T) *couchstore.Store {
	t.Helper()
	s, err := couchstore.Open(ctx(t), couchstore.Options{URL: e.url, Prefix: e.prefix})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// db is a raw handle on one of the test's databases.
func (e *env) db(name string) *kivik.DB { return e.raw.DB(e.prefix + name) }

// rawDoc reads a document as stored.
func (e *env) rawDoc(t *testing.T, db, id string) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := e.db(db).Get(ctx(t), id).ScanDoc(&doc); err != nil {
		t.Fatalf("raw get %s/%s: %v", db, id, err)
	}
	return doc
}

// putRaw writes a document as given.
func (e *env) putRaw(t *testing.T, db, id string, doc map[string]any) string {
	t.Helper()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := e.db(db).Put(ctx(t), id, json.RawMessage(b))
	if err != nil {
		t.Fatalf("raw put %s/%s: %v", db, id, err)
	}
	return rev
}

// newRequest stores a submitted request of a fresh account.
func (e *env) newRequest(t *testing.T) *porting.Request {
	t.Helper()
	r := &porting.Request{ID: newID(t), Public: porting.Fields{}, Private: porting.Fields{},
		State: porting.Submitted, AccountID: newID(t), Created: 63900000000, Modified: 63900000000}
	r.Tree = []string{r.AccountID}
	if err := e.store.CreateRequest(ctx(t), r); err != nil {
		t.Fatalf("CreateRequest: %v", err)
	}
	return r
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// newID is a Kazoo id: 32 lowercase hex.
func newID(t *testing.T) string {
	t.Helper()
	return porting.RandomID()
}

// wantKind fails unless err is a domain error of kind.
func wantKind(t *testing.T, err error, kind porting.Kind) {
	t.Helper()
	if !porting.IsKind(err, kind) {
		t.Fatalf("error = %v (kind %d), want kind %d", err, porting.KindOf(err), kind)
	}
}
