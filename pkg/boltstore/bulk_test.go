package boltstore_test

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/boltstore"
	"github.com/portreqd/portreqd/pkg/porting"
)

// RawPutMany leaves the file exactly as RawPut of the same documents one
// by one: the same documents and revisions, tombstones, attachment
// references and index entries.
func TestRawPutManyAsRawPut(t *testing.T) {
	bulk, single := open(t, t.TempDir()), open(t, t.TempDir())
	root, acct := newID(t), newID(t)
	raw := func(r *porting.Request) *porting.RawDoc {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		d, err := porting.SplitRaw(b)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// The same history on both: requests, one with an attachment, one
	// deleted.
	var before []*porting.Request
	for i := range 20 {
		r := request(t, acct, []string{root}, int64(1000+i))
		before = append(before, r)
	}
	attached, gone := before[0], before[1]
	for _, s := range []*boltstore.Store{bulk, single} {
		for _, r := range before {
			c := *r
			if err := s.CreateRequest(ctx(t), &c); err != nil {
				t.Fatal(err)
			}
		}
		a, err := s.GetRequest(ctx(t), attached.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.PutAttachment(ctx(t), a.ID, a.Rev, "loa.pdf", "application/pdf", strings.NewReader("%PDF-1.4")); err != nil {
			t.Fatal(err)
		}
		g, err := s.GetRequest(ctx(t), gone.ID)
		if err != nil {
			t.Fatal(err)
		}
		g.Deleted = true
		if err := s.UpdateRequest(ctx(t), g); err != nil {
			t.Fatal(err)
		}
	}

	// A batch of new requests and replacements (a new state, numbers,
	// undeletion, attachments dropped), one id twice.
	var docs []*porting.RawDoc
	for i := range 300 {
		r := request(t, acct, []string{root}, int64(2000+i%17))
		r.State = porting.States[i%len(porting.States)]
		r.Public.Set("numbers", map[string]any{fmt.Sprintf("+1202555%04d", i%40): map[string]any{}})
		docs = append(docs, raw(r))
	}
	for i, r := range before[:10] {
		c := *r
		c.State, c.Modified, c.Deleted = porting.Pending, 3000+int64(i), false
		docs = append(docs, raw(&c))
	}
	again := *before[5]
	again.State = porting.Rejected
	docs = append(docs, raw(&again))

	if err := bulk.RawPutMany(ctx(t), "port_requests", docs); err != nil {
		t.Fatalf("RawPutMany: %v", err)
	}
	none := func(string) (io.ReadCloser, error) { return nil, fmt.Errorf("no attachments") }
	for _, d := range docs {
		if err := single.RawPut(ctx(t), "port_requests", d, none); err != nil {
			t.Fatalf("RawPut: %v", err)
		}
	}
	a, err := bulk.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := single.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if len(a["port_requests"]) != 320 || len(a["_idx/port_requests/by_number"]) == 0 {
		t.Fatalf("snapshot: %d requests, %d number entries", len(a["port_requests"]), len(a["_idx/port_requests/by_number"]))
	}
	if diff := cmp.Diff(b, a); diff != "" {
		t.Errorf("RawPutMany (+) against RawPut one by one (-):\n%s", diff)
	}
}
