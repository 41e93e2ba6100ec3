package kazoo_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/bolt"
	"github.com/portreqd/portreqd/pkg/engine/couch"
	"github.com/portreqd/portreqd/pkg/kazoo"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/porting/storetest"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

// The store contract on the embedded engine, a fresh file per test.
func TestContractBolt(t *testing.T) {
	storetest.Run(t, func(t *testing.T) porting.Store {
		eng, err := bolt.Open(filepath.Join(t.TempDir(), "kazoo.db"), bolt.Options{NoSync: true})
		if err != nil {
			t.Fatalf("bolt.Open: %v", err)
		}
		return open(t, eng, "")
	})
}

var seq atomic.Int64

// The store contract on the CouchDB of COUCHDB_URL, on databases of a
// fresh prefix per test, removed afterwards. Without COUCHDB_URL (or a
// -tags docker container) couchdbtest.URL skips the test, naming the
// variable; under CI=true it fails instead.
func TestContractCouch(t *testing.T) {
	url := couchdbtest.URL(t)
	storetest.Run(t, func(t *testing.T) porting.Store {
		prefix := fmt.Sprintf("%skazoo%d_", couchdbtest.Prefix(), seq.Add(1))
		t.Cleanup(func() { dropPrefix(t, url, prefix) })
		eng, err := couch.Open(ctx(t), couch.Options{URL: url, LeaseDB: prefix + "leases"})
		if err != nil {
			t.Fatalf("couch.Open: %v", err)
		}
		return open(t, eng, prefix)
	})
}

// open opens the store on eng, closed (with eng) when the test ends.
func open(t *testing.T, eng engine.Engine, prefix string) *kazoo.Store {
	t.Helper()
	// On CouchDB, as portreqd runs there, with Kazoo's design documents.
	_, onCouch := eng.(*couch.Engine)
	s, err := kazoo.Open(ctx(t), eng, kazoo.Options{Prefix: prefix, KazooDesigns: onCouch})
	if err != nil {
		_ = eng.Close()
		t.Fatalf("kazoo.Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// dropPrefix deletes every database of the test, those made on demand too.
func dropPrefix(t *testing.T, url, prefix string) {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	eng, err := couch.Open(c, couch.Options{URL: url})
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	defer eng.Close()
	dbs, err := eng.AllDBs(c)
	if err != nil {
		t.Logf("cleanup: %v", err)
	}
	for _, db := range dbs {
		if strings.HasPrefix(db, prefix) {
			_ = eng.DeleteDB(c, db)
		}
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}
