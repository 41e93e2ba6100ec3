package couchstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kivik "github.com/go-kivik/kivik/v4"
	_ "github.com/go-kivik/kivik/v4/couchdb"

	"github.com/portreqd/portreqd/pkg/couchstore"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/test/couchdbtest"
	"github.com/portreqd/portreqd/views"
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

	mu    sync.Mutex
	extra []string // databases created on demand, removed afterwards
}

// dropLater removes database name (before the prefix) when the test ends;
// for the databases the store creates on demand.
func (e *env) dropLater(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !slices.Contains(e.extra, name) {
		e.extra = append(e.extra, name)
	}
}

// newEnv opens a store on databases of the test's own, removed afterwards.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := bareEnv(t)
	e.store = e.open(t)
	return e
}

// bareEnv is newEnv before the first Open: no database exists yet.
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
		dbs := []string{"accounts", "port_requests", "port_number_claims"}
		e.mu.Lock()
		dbs = append(dbs, e.extra...)
		e.mu.Unlock()
		docs, _ := views.All()
		for _, d := range docs {
			if !slices.Contains(dbs, d.DB) {
				dbs = append(dbs, d.DB)
			}
		}
		for _, db := range dbs {
			if err := raw.DestroyDB(ctx, e.prefix+db); err != nil && kivik.HTTPStatus(err) != 404 {
				t.Logf("destroy %s: %v", e.prefix+db, err)
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

// createAccount stores a via the store and fails the test on error.
func (e *env) createAccount(t *testing.T, a *porting.Account) *porting.Account {
	t.Helper()
	if a.ID == "" {
		a.ID = newID(t)
	}
	if err := e.store.CreateAccount(ctx(t), a); err != nil {
		t.Fatalf("CreateAccount %q: %v", a.Name, err)
	}
	return a
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
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// wantKind fails unless err is a domain error of kind.
func wantKind(t *testing.T, err error, kind porting.Kind) {
	t.Helper()
	if !porting.IsKind(err, kind) {
		t.Fatalf("error = %v (kind %d), want kind %d", err, porting.KindOf(err), kind)
	}
}

// names lists account names, for readable diffs.
func names(accts []*porting.Account) []string {
	out := []string{}
	for _, a := range accts {
		out = append(out, a.Name)
	}
	return out
}
