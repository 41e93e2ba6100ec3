// Package storetest is the contract of porting.Store as one test suite,
// run unchanged against every implementation (pkg/kazoo on the CouchDB
// engine and on the embedded one). Everything the service and the API rely
// on is asserted here: ordering, windows and pagination of listings,
// cursors, conflicts, soft delete, claims, attachments, numbers, the
// ledger, and that documents keep members portreqd does not model. A
// difference between two stores is a failure of one of them.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/portreqd/portreqd/pkg/porting"
)

// test is one behaviour of the contract.
type test struct {
	name string
	run  func(t *testing.T, h *harness)
}

// Run runs the contract against the stores newStore returns: one fresh,
// empty store per test, which newStore closes and removes in t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) porting.Store) {
	groups := [][]test{requestTests, viewTests, listingTests, accountTests, attachmentTests, claimTests, numberTests, rawTests, bulkTests}
	for _, g := range groups {
		for _, tt := range g {
			t.Run(tt.name, func(t *testing.T) {
				s := newStore(t)
				h := &harness{s: s}
				h.raw, _ = s.(porting.RawStore)
				tt.run(t, h)
			})
		}
	}
}

// harness is one test's store.
type harness struct {
	s porting.Store
	// raw is the store's raw view when it has one (porting.RawStore): how
	// the suite plants Kazoo's (and broken) documents and checks that every
	// store keeps the same JSON. Tests that need it skip without it.
	raw porting.RawStore
}

// needRaw skips the test unless the store offers raw access.
func (h *harness) needRaw(t *testing.T) {
	t.Helper()
	if h.raw == nil {
		t.Skip("the store offers no raw document access (porting.RawStore)")
	}
}

// rawDoc reads a document as stored: its members, _id, and the
// content_type, length and digest of its attachments under _attachments.
func (h *harness) rawDoc(t *testing.T, db, id string) map[string]any {
	t.Helper()
	h.needRaw(t)
	raw, err := h.raw.RawGet(ctx(t), db, id)
	if err != nil {
		t.Fatalf("raw get %s/%s: %v", db, id, err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw.Body, &doc); err != nil {
		t.Fatalf("raw get %s/%s: %v", db, id, err)
	}
	doc["_id"] = raw.ID
	if len(raw.Attachments) > 0 {
		atts := map[string]any{}
		for name, a := range raw.Attachments {
			atts[name] = map[string]any{"content_type": a.ContentType, "length": float64(a.Length), "digest": a.Digest}
		}
		doc["_attachments"] = atts
	}
	return doc
}

// putRaw writes a document (without attachments) as given.
func (h *harness) putRaw(t *testing.T, db, id string, doc map[string]any) {
	t.Helper()
	h.needRaw(t)
	body := map[string]any{}
	for k, v := range doc {
		if k != "_id" {
			body[k] = v
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	noAttachments := func(name string) (io.ReadCloser, error) { return nil, fmt.Errorf("no attachment %s", name) }
	if err := h.raw.RawPut(ctx(t), db, &porting.RawDoc{ID: id, Body: b}, noAttachments); err != nil {
		t.Fatalf("raw put %s/%s: %v", db, id, err)
	}
}

// ctx is a context for one store call.
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

// wantRev fails unless rev is CouchDB's "<generation>-<32 hex>" with the
// given generation.
func wantRev(t *testing.T, what, rev string, gen int) {
	t.Helper()
	g, hash, ok := strings.Cut(rev, "-")
	if !ok || g != strconv.Itoa(gen) || len(hash) != 32 || strings.Trim(hash, "0123456789abcdef") != "" {
		t.Errorf("%s: rev %q, want %d-<32 hex>", what, rev, gen)
	}
}

// rawJSON compares raw JSON members by value, not by bytes: a store may
// re-encode what it keeps. A transition's Raw (the bytes it was read
// from) is how it is written back, not what it says: its typed members
// are compared.
var rawJSON = cmp.Options{
	cmp.Transformer("rawJSON", func(r json.RawMessage) any {
		var v any
		if err := json.Unmarshal(r, &v); err != nil {
			return string(r)
		}
		return v
	}),
	cmpopts.IgnoreFields(porting.Transition{}, "Raw"),
}
