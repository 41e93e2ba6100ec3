package couchstore_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/portreqd/portreqd/pkg/porting"
)

// Documents CouchDB refuses one by one (here by a validate_doc_update
// function) are named in RawPutMany's error; the others are written.
func TestRawPutManyNamesRefused(t *testing.T) {
	e := newEnv(t)
	e.putRaw(t, "port_requests", "_design/deny", map[string]any{
		"validate_doc_update": `function (doc) { if (doc.deny) { throw({forbidden: "denied"}); } }`,
	})
	doc := func(id string, deny bool) *porting.RawDoc {
		b, _ := json.Marshal(map[string]any{"pvt_type": "other", "deny": deny})
		return &porting.RawDoc{ID: id, Body: b}
	}
	ok, bad1, bad2 := newID(t), newID(t), newID(t)
	err := e.store.RawPutMany(ctx(t), "port_requests", []*porting.RawDoc{doc(bad1, true), doc(ok, false), doc(bad2, true)})
	if err == nil || !strings.Contains(err.Error(), bad1) || !strings.Contains(err.Error(), bad2) ||
		strings.Contains(err.Error(), ok) || !strings.Contains(err.Error(), "2 of 3") {
		t.Fatalf("RawPutMany = %v, want an error naming %s and %s only", err, bad1, bad2)
	}
	if _, err := e.store.RawGet(ctx(t), "port_requests", ok); err != nil {
		t.Errorf("the accepted document: %v", err)
	}
	if _, err := e.store.RawGet(ctx(t), "port_requests", bad1); !porting.IsKind(err, porting.KindNotFound) {
		t.Errorf("a refused document: %v, want KindNotFound", err)
	}
}
