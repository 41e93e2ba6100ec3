// Package kazootest opens the Kazoo store for tests of the packages above
// it (porting, api, migrate, the load tool): on the embedded engine in a
// temporary directory, which needs no server, or on a CouchDB at a prefix
// of the test's own, removed when the test ends.
package kazootest

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/bolt"
	"github.com/portreqd/portreqd/pkg/engine/couch"
	"github.com/portreqd/portreqd/pkg/kazoo"
)

// Embedded opens a store on a fresh embedded engine file, closed when the
// test ends. fsync is off: a test never survives a crash anyway.
func Embedded(t testing.TB) *kazoo.Store {
	t.Helper()
	eng, err := bolt.Open(filepath.Join(t.TempDir(), "engine.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatalf("bolt.Open: %v", err)
	}
	s, err := kazoo.Open(context.Background(), eng, kazoo.Options{})
	if err != nil {
		_ = eng.Close()
		t.Fatalf("kazoo.Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Couch opens a store on the CouchDB at url, every database name prefixed
// with prefix; the store is closed and every database of the prefix
// (those made on demand too) deleted when the test ends.
func Couch(t testing.TB, url, prefix string) *kazoo.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	eng, err := couch.Open(ctx, couch.Options{URL: url, LeaseDB: prefix + "portreqd_leases"})
	if err != nil {
		t.Fatalf("couch.Open %s: %v", couch.MaskURL(url), err)
	}
	t.Cleanup(func() { DropPrefix(t, url, prefix) })
	s, err := kazoo.Open(ctx, eng, kazoo.Options{Prefix: prefix, KazooDesigns: true})
	if err != nil {
		_ = eng.Close()
		t.Fatalf("kazoo.Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// DropPrefix deletes every database whose name starts with prefix.
// Failures are logged, not fatal: cleanup must not hide the test's result.
func DropPrefix(t testing.TB, url, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	eng, err := couch.Open(ctx, couch.Options{URL: url})
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	defer eng.Close()
	DropPrefixOn(t, prefix, eng)
}

// DropPrefixOn deletes every database of prefix on each engine, again
// until none comes back: a replication being stopped may still create its
// target once more. Failures are logged, not fatal.
func DropPrefixOn(t testing.TB, prefix string, engines ...engine.Engine) {
	t.Helper()
	if prefix == "" {
		t.Logf("cleanup: refusing to drop every database (empty prefix)")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for round := 0; round < 20; round++ {
		left := 0
		for _, eng := range engines {
			dbs, err := eng.AllDBs(ctx)
			if err != nil {
				t.Logf("cleanup: %v", err)
				return
			}
			for _, db := range dbs {
				if strings.HasPrefix(db, prefix) {
					left++
					if err := eng.DeleteDB(ctx, db); err != nil {
						t.Logf("cleanup: delete %s: %v", db, err)
					}
				}
			}
		}
		if left == 0 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}
