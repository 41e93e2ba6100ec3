package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/porting"
)

// The raw view (porting.RawStore) is what migrate copies through; a copy
// made through it must read back equal and serve like the original.
var rawTests = []test{
	{"RawCopy", testRawCopy},
	{"RawDocsOrderAndPaging", testRawDocsOrderAndPaging},
	{"RawMissing", testRawMissing},
}

// rawDocs collects RawDocs of db.
func (h *harness) rawDocs(t *testing.T, db string) []*porting.RawDoc {
	t.Helper()
	var out []*porting.RawDoc
	if err := h.raw.RawDocs(ctx(t), db, func(d *porting.RawDoc) error { out = append(out, d); return nil }); err != nil {
		t.Fatalf("RawDocs %s: %v", db, err)
	}
	return out
}

// A request with attachments, copied to a new id through the raw view,
// reads back equal, serves its attachments and is in the listings; a
// second copy over it replaces body and attachments.
func testRawCopy(t *testing.T, h *harness) {
	h.needRaw(t)
	acct := newID(t)
	r := h.newRequest(t, reqSpec{account: acct, modified: 1000, numbers: []string{"+12025550100"}})
	rev := h.putAttachment(t, r.ID, r.Rev, "loa.pdf", "application/pdf", &PatternReader{N: 300_000})
	h.putAttachment(t, r.ID, rev, "bill.txt", "text/plain", strings.NewReader("bill"))

	src, err := h.raw.RawGet(ctx(t), "port_requests", r.ID)
	if err != nil {
		t.Fatalf("RawGet: %v", err)
	}
	if len(src.Attachments) != 2 || src.Attachments["bill.txt"].Length != 4 || src.Attachments["bill.txt"].Digest == "" {
		t.Errorf("RawGet attachments: %+v", src.Attachments)
	}
	listed := h.rawDocs(t, "port_requests")
	if len(listed) != 1 || !listed[0].Equal(src) {
		t.Errorf("RawDocs = %v, want the one document", listed)
	}
	cp := *src
	cp.ID = newID(t)
	opened := []string{}
	open := func(name string) (io.ReadCloser, error) {
		opened = append(opened, name)
		return h.raw.RawAttachment(ctx(t), "port_requests", r.ID, name)
	}
	if err := h.raw.RawPut(ctx(t), "port_requests", &cp, open); err != nil {
		t.Fatalf("RawPut: %v", err)
	}
	slices.Sort(opened)
	if diff := cmp.Diff([]string{"bill.txt", "loa.pdf"}, opened); diff != "" {
		t.Errorf("attachments opened (-want +got):\n%s", diff)
	}
	got, err := h.raw.RawGet(ctx(t), "port_requests", cp.ID)
	if err != nil || !got.Equal(&cp) {
		t.Fatalf("copy reads back as %+v, %v; want %+v", got, err, cp)
	}
	body, err := h.raw.RawAttachment(ctx(t), "port_requests", cp.ID, "loa.pdf")
	if err != nil {
		t.Fatalf("RawAttachment: %v", err)
	}
	b, _ := io.ReadAll(body)
	_ = body.Close()
	want, _ := io.ReadAll(&PatternReader{N: 300_000})
	if !bytes.Equal(b, want) {
		t.Errorf("copied attachment: %d bytes, differs", len(b))
	}
	copied := h.getRequest(t, cp.ID)
	if copied.AccountID != acct || copied.Attachments["loa.pdf"].Length != 300_000 {
		t.Errorf("copied request: %+v", copied)
	}
	p := h.list(t, porting.ListQuery{Account: acct, State: porting.Submitted})
	if diff := cmp.Diff(sortedIDs(r.ID, cp.ID), sortedIDs(ids(p.Requests())...)); diff != "" {
		t.Errorf("listing after copy (-want +got):\n%s", diff)
	}

	// A second copy over the first replaces its body and attachments.
	var fields map[string]any
	_ = json.Unmarshal(cp.Body, &fields)
	fields["pvt_port_state"] = "pending"
	again := porting.RawDoc{ID: cp.ID, Attachments: map[string]porting.Attachment{"bill.txt": cp.Attachments["bill.txt"]}}
	again.Body, _ = json.Marshal(fields)
	if err := h.raw.RawPut(ctx(t), "port_requests", &again, open); err != nil {
		t.Fatalf("RawPut over a copy: %v", err)
	}
	if got, err := h.raw.RawGet(ctx(t), "port_requests", cp.ID); err != nil || !got.Equal(&again) {
		t.Errorf("replaced copy reads back as %+v, %v", got, err)
	}
	if _, err := h.s.GetAttachment(ctx(t), cp.ID, "loa.pdf"); !porting.IsKind(err, porting.KindNotFound) {
		t.Errorf("attachment the replacement left out: %v, want KindNotFound", err)
	}
	if got := h.getRequest(t, cp.ID); got.State != porting.Pending {
		t.Errorf("replaced copy state %s", got.State)
	}
	p = h.list(t, porting.ListQuery{Account: acct, State: porting.Pending})
	if diff := cmp.Diff([]string{cp.ID}, ids(p.Requests())); diff != "" {
		t.Errorf("pending listing after replace (-want +got):\n%s", diff)
	}
}

// RawDocs goes through a database of more documents than one read takes,
// in id order, each once.
func testRawDocsOrderAndPaging(t *testing.T, h *harness) {
	h.needRaw(t)
	var claims []*porting.Claim
	for i := range 450 {
		claims = append(claims, claim(fmt.Sprintf("+1202555%04d", (i*7919)%10000), newID(t)))
	}
	if taken, err := h.s.CreateClaims(ctx(t), claims); err != nil || len(taken) != 0 {
		t.Fatalf("CreateClaims: %v, %v", taken, err)
	}
	var got, want []string
	for _, d := range h.rawDocs(t, "port_number_claims") {
		got = append(got, d.ID)
	}
	for _, c := range claims {
		want = append(want, c.Number)
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RawDocs ids (-want +got):\n%s", diff)
	}
}

// Missing databases hold no documents; a raw write creates its database.
func testRawMissing(t *testing.T, h *harness) {
	h.needRaw(t)
	if docs := h.rawDocs(t, "numbers/+1415"); len(docs) != 0 {
		t.Errorf("RawDocs of a missing database: %v", docs)
	}
	_, err := h.raw.RawGet(ctx(t), "numbers/+1415", "+14155550100")
	wantKind(t, err, porting.KindNotFound)
	_, err = h.raw.RawGet(ctx(t), "port_requests", newID(t))
	wantKind(t, err, porting.KindNotFound)

	n := number("+14155550100", newID(t))
	b, _ := json.Marshal(n)
	doc, err := porting.SplitRaw(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.raw.RawPut(ctx(t), "numbers/+1415", doc, nil); err != nil {
		t.Fatalf("RawPut into a new database: %v", err)
	}
	got, err := h.s.GetNumbers(ctx(t), []string{n.Number})
	if err != nil || got[n.Number] == nil || got[n.Number].AssignedTo != n.AssignedTo {
		t.Errorf("GetNumbers after a raw copy: %v, %v", got, err)
	}
}
