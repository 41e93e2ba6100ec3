package boltstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/boltstore"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/porting/storetest"
)

// The store contract, on a fresh data directory per test.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) porting.Store { return open(t, t.TempDir()) })
}

// open opens the store in dir, closed when the test ends.
func open(t testing.TB, dir string) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(dir, boltstore.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func ctx(t testing.TB) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// newID is a Kazoo id: 32 lowercase hex.
func newID(t testing.TB) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// request builds a submitted request of account in tree at modified.
func request(t testing.TB, account string, tree []string, modified int64) *porting.Request {
	r := &porting.Request{ID: newID(t), Public: porting.Fields{}, Private: porting.Fields{},
		State: porting.Submitted, AccountID: account, Tree: append(append([]string{}, tree...), account),
		Created: modified - 100, Modified: modified}
	r.Public.Set("name", "port "+r.ID[:6])
	r.Public.Set("numbers", map[string]any{"+1202555" + r.ID[:4]: map[string]any{}})
	return r
}

func TestPingAndClose(t *testing.T) {
	s, err := boltstore.Open(t.TempDir(), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx(t)); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Ping(ctx(t)); !porting.IsKind(err, porting.KindUnavailable) {
		t.Errorf("Ping after Close = %v, want KindUnavailable", err)
	}
	if _, err := s.GetRequest(ctx(t), newID(t)); !porting.IsKind(err, porting.KindUnavailable) {
		t.Errorf("GetRequest after Close = %v, want KindUnavailable", err)
	}
}

// Everything written is there after a reopen: documents, indexes and
// attachment bodies.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := boltstore.Open(dir, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	acct := newID(t)
	r := request(t, acct, nil, 1000)
	if err := s.CreateRequest(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	rev, err := s.PutAttachment(ctx(t), r.ID, r.Rev, "loa.pdf", "application/pdf", &storetest.PatternReader{N: 200_000})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir)
	got, err := s.GetRequest(ctx(t), r.ID)
	if err != nil || got.Rev != rev {
		t.Fatalf("GetRequest after reopen: %v, %v", got, err)
	}
	p, err := storetest.ListRequests(ctx(t), s, porting.ListQuery{Account: acct, State: porting.Submitted})
	if err != nil || len(p.Requests()) != 1 {
		t.Errorf("listing after reopen: %v, %v", p, err)
	}
	a, err := s.GetAttachment(ctx(t), r.ID, "loa.pdf")
	if err != nil || a.Length != 200_000 {
		t.Fatalf("GetAttachment after reopen: %v, %v", a, err)
	}
	_ = a.Body.Close()
}

// Indexes are derived data: a file whose indexes are missing or were built
// by other definitions gets them rebuilt from the documents at Open.
func TestIndexesRebuilt(t *testing.T) {
	for _, tt := range []struct {
		name  string
		spoil func(dir string) error
	}{
		{"dropped", boltstore.DropIndexes},
		{"older definitions", func(dir string) error { return boltstore.SetMeta(dir, "indexes", "0") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := boltstore.Open(dir, boltstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			root, acct := newID(t), newID(t)
			for i := range 5 {
				if err := s.CreateRequest(ctx(t), request(t, acct, []string{root}, int64(1000+i))); err != nil {
					t.Fatal(err)
				}
			}
			_ = s.Close()
			if err := tt.spoil(dir); err != nil {
				t.Fatal(err)
			}
			s = open(t, dir)
			p, err := storetest.ListRequests(ctx(t), s, porting.ListQuery{Account: root, Descendants: true, State: porting.Submitted})
			if err != nil || len(p.Requests()) != 5 {
				t.Errorf("listing after rebuild: %v, %v", p, err)
			}
		})
	}
}
