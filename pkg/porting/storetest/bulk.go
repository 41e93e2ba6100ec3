package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/portreqd/portreqd/pkg/porting"
)

// Bulk raw access (RawPutMany, RawGetMany) is how migrate copies most
// documents: a batch must leave the store exactly as the same documents
// written one by one would, indexes included.
var bulkTests = []test{
	{"RawPutManyBulk", testRawPutManyBulk},
	{"RawPutManyReplaces", testRawPutManyReplaces},
	{"RawPutManyRefuses", testRawPutManyRefuses},
	{"RawPutManyEmpty", testRawPutManyEmpty},
	{"RawGetMany", testRawGetMany},
}

// rawOf is the RawDoc of a document value (Request, Claim, …).
func rawOf(t *testing.T, v any) *porting.RawDoc {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := porting.SplitRaw(b)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// putMany runs RawPutMany and fails the test on error.
func (h *harness) putMany(t *testing.T, db string, docs []*porting.RawDoc) {
	t.Helper()
	if err := h.raw.RawPutMany(ctx(t), db, docs); err != nil {
		t.Fatalf("RawPutMany %s (%d documents): %v", db, len(docs), err)
	}
}

// bulkRequest is a request built in memory, not stored.
func bulkRequest(t *testing.T, account string, tree []string, state porting.State, modified int64, numbers ...string) *porting.Request {
	t.Helper()
	nums := map[string]any{}
	for _, n := range numbers {
		nums[n] = map[string]any{}
	}
	r := &porting.Request{
		ID: newID(t), Public: porting.Fields{}, Private: porting.Fields{}, State: state, AccountID: account,
		Tree: append([]string{}, tree...), Created: modified - 100, Modified: modified,
	}
	r.Public.Set("name", "bulk "+r.ID[:6])
	r.Public.Set("numbers", nums)
	return r
}

// 500 requests in one batch, over an account tree, every state, shared
// numbers, crowded timestamps and soft-deleted ones: they read back as
// written, and every listing and view answers as for requests written one
// by one.
func testRawPutManyBulk(t *testing.T, h *harness) {
	h.needRaw(t)
	root, child, other, grandchild := newID(t), newID(t), newID(t), newID(t)
	accounts := []struct {
		id   string
		tree []string
	}{{root, nil}, {child, []string{root}}, {other, []string{root}}, {grandchild, []string{root, child}}}
	var pool []string
	for i := range 40 {
		pool = append(pool, fmt.Sprintf("+1202555%04d", 100+i))
	}
	var reqs []*porting.Request
	var docs []*porting.RawDoc
	for i := range 500 {
		a := accounts[i%len(accounts)]
		r := bulkRequest(t, a.id, a.tree, porting.States[i%len(porting.States)], 63900000000+int64(i%37)*10,
			pool[i%len(pool)], pool[(i*7+3)%len(pool)])
		r.Deleted = i%50 == 7
		if i%5 == 0 {
			r.Private.Set("pvt_kazoo_only", i)
			r.Public.Set("reference_number", fmt.Sprint(i))
			r.Transitions = []porting.Transition{{Timestamp: r.Modified, Type: "transition",
				Transition: porting.TransitionState{New: r.State, Previous: porting.Unconfirmed}}}
		}
		reqs = append(reqs, r)
		docs = append(docs, rawOf(t, r))
	}
	h.putMany(t, "port_requests", docs)

	// As written, at their first revision.
	listed := h.rawDocs(t, "port_requests")
	if len(listed) != len(docs) {
		t.Fatalf("RawDocs: %d documents, want %d", len(listed), len(docs))
	}
	byID := map[string]*porting.RawDoc{}
	for _, d := range docs {
		byID[d.ID] = d
	}
	for _, d := range listed {
		if want := byID[d.ID]; want == nil || !d.Equal(want) {
			t.Fatalf("RawDocs: %s reads back as %s, want %v", d.ID, d.Body, want)
		}
	}
	for _, r := range reqs[:10] {
		got := h.getRequest(t, r.ID)
		wantRev(t, "bulk-written request", got.Rev, 1)
		want := *r
		want.Rev = got.Rev
		if diff := cmp.Diff(&want, got, rawJSON, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("GetRequest %s (-want +got):\n%s", r.ID, diff)
		}
	}

	// Listings, per account, with and without descendants, per state.
	for _, a := range accounts {
		for _, desc := range []bool{false, true} {
			for _, st := range porting.States {
				var want []*porting.Request
				for _, r := range reqs {
					owns := r.AccountID == a.id || desc && slices.Contains(r.Tree, a.id)
					if owns && r.State == st && !r.Deleted {
						want = append(want, r)
					}
				}
				q := porting.ListQuery{Account: a.id, Descendants: desc, State: st}
				if diff := cmp.Diff(listingOrder(want), ids(h.list(t, q).Requests())); diff != "" {
					t.Errorf("listing %+v (-want +got):\n%s", q, diff)
				}
			}
		}
	}
	q := porting.ListQuery{Account: root, Descendants: true, State: porting.Submitted}
	var subm []*porting.Request
	for _, r := range reqs {
		if r.State == porting.Submitted && !r.Deleted {
			subm = append(subm, r)
		}
	}
	if diff := cmp.Diff(listingOrder(subm), h.listAll(t, q, 7)); diff != "" {
		t.Errorf("pages of 7 (-want +got):\n%s", diff)
	}

	// Requests by number and active holders.
	for _, n := range pool[:5] {
		var want []string
		for _, r := range reqs {
			if !r.Deleted && slices.Contains(r.Numbers(), n) {
				want = append(want, r.ID)
			}
		}
		got, err := h.s.RequestsByNumber(ctx(t), n)
		if err != nil {
			t.Fatalf("RequestsByNumber: %v", err)
		}
		if diff := cmp.Diff(sortedIDs(want...), ids(got)); diff != "" {
			t.Errorf("RequestsByNumber %s (-want +got):\n%s", n, diff)
		}
	}
	wantHolders := map[string][]porting.NumberHolder{}
	for _, r := range reqs {
		if r.Deleted || !r.State.Active() {
			continue
		}
		for _, n := range r.Numbers() {
			wantHolders[n] = append(wantHolders[n], porting.NumberHolder{RequestID: r.ID, AccountID: r.AccountID})
		}
	}
	for _, hs := range wantHolders {
		slices.SortFunc(hs, func(a, b porting.NumberHolder) int { return strings.Compare(a.RequestID, b.RequestID) })
	}
	holders, err := h.s.ActiveHolders(ctx(t), pool)
	if err != nil {
		t.Fatalf("ActiveHolders: %v", err)
	}
	if diff := cmp.Diff(wantHolders, holders); diff != "" {
		t.Errorf("ActiveHolders (-want +got):\n%s", diff)
	}

	// A database of its own, created by the batch.
	var nums []*porting.RawDoc
	for _, n := range []string{"+13035550100", "+13035550101"} {
		nums = append(nums, rawOf(t, number(n, root)))
	}
	h.putMany(t, porting.NumberDB("+13035550100"), nums)
	got, err := h.s.GetNumbers(ctx(t), []string{"+13035550100", "+13035550101"})
	if err != nil || len(got) != 2 || got["+13035550101"].AssignedTo != root {
		t.Errorf("GetNumbers after a bulk write into a new database: %v, %v", got, err)
	}
}

// A batch replaces what is stored whatever its revision: live documents
// (attachments dropped), deleted ones, and earlier documents of the same
// batch; views follow.
func testRawPutManyReplaces(t *testing.T, h *harness) {
	h.needRaw(t)
	acct := newID(t)
	n1, n2, n3, n4 := "+12025550100", "+12025550101", "+12025550102", "+12025550103"
	a := h.newRequest(t, reqSpec{account: acct, modified: 1000, numbers: []string{n1}})
	b := h.newRequest(t, reqSpec{account: acct, modified: 1000, numbers: []string{n2}})
	h.update(t, b)
	c := h.newRequest(t, reqSpec{account: acct, modified: 1000, numbers: []string{n3}})
	h.putAttachment(t, c.ID, c.Rev, "loa.pdf", "application/pdf", strings.NewReader("%PDF-1.4 loa"))
	cl := claim("+12025550199", a.ID)
	if taken, err := h.s.CreateClaims(ctx(t), []*porting.Claim{cl}); err != nil || len(taken) != 0 {
		t.Fatalf("CreateClaims: %v, %v", taken, err)
	}
	if err := h.s.DeleteClaims(ctx(t), []*porting.Claim{cl}); err != nil {
		t.Fatalf("DeleteClaims: %v", err)
	}

	a2, b2, c2 := *a, *b, *c
	a2.State, a2.Modified = porting.Pending, 2000
	a2.Public = a.Public.Clone()
	a2.Public.Set("numbers", map[string]any{n4: map[string]any{}})
	b2.Deleted = true
	c2.State, c2.Attachments = porting.Completed, nil
	d := bulkRequest(t, acct, nil, porting.Submitted, 1500, n1)
	first := bulkRequest(t, acct, nil, porting.Scheduled, 1200, n2)
	again := *first
	again.State = porting.Rejected
	batch := []*porting.RawDoc{rawOf(t, &a2), rawOf(t, &b2), rawOf(t, first), rawOf(t, &c2), rawOf(t, d), rawOf(t, &again)}
	h.putMany(t, "port_requests", batch)

	for _, want := range batch[1:] { // first is replaced by again
		if want.ID == first.ID {
			continue
		}
		got, err := h.raw.RawGet(ctx(t), "port_requests", want.ID)
		if err != nil || !got.Equal(want) {
			t.Errorf("%s reads back as %+v, %v; want %+v", want.ID, got, err, want)
		}
	}
	if got, err := h.raw.RawGet(ctx(t), "port_requests", first.ID); err != nil || !got.Equal(rawOf(t, &again)) {
		t.Errorf("the later of two documents of one id: read back %+v, %v", got, err)
	}
	if got := h.getRequest(t, again.ID); got.State != porting.Rejected {
		t.Errorf("the later of two documents of one id: state %s", got.State)
	}
	for _, w := range []struct {
		id  string
		gen int
	}{{a.ID, 2}, {b.ID, 3}, {c.ID, 3}, {d.ID, 1}} {
		wantRev(t, "replaced "+w.id, h.getRequest(t, w.id).Rev, w.gen)
	}
	if _, err := h.s.GetAttachment(ctx(t), c.ID, "loa.pdf"); !porting.IsKind(err, porting.KindNotFound) {
		t.Errorf("attachment of a replaced document: %v, want KindNotFound", err)
	}
	if raw, _ := h.raw.RawGet(ctx(t), "port_requests", c.ID); raw != nil && len(raw.Attachments) != 0 {
		t.Errorf("replaced document keeps attachments %v", raw.Attachments)
	}

	listed := func(st porting.State) []string {
		return ids(h.list(t, porting.ListQuery{Account: acct, State: st}).Requests())
	}
	byNumber := func(n string) []string {
		got, err := h.s.RequestsByNumber(ctx(t), n)
		if err != nil {
			t.Fatalf("RequestsByNumber: %v", err)
		}
		return ids(got)
	}
	holders, err := h.s.ActiveHolders(ctx(t), []string{n1, n2, n3, n4})
	if err != nil {
		t.Fatalf("ActiveHolders: %v", err)
	}
	checks := []struct {
		what      string
		got, want any
	}{
		{"submitted", listed(porting.Submitted), []string{d.ID}},
		{"pending", listed(porting.Pending), []string{a.ID}},
		{"completed", listed(porting.Completed), []string{c.ID}},
		{"scheduled", listed(porting.Scheduled), []string{}},
		{"rejected", listed(porting.Rejected), []string{first.ID}},
		{"by old number", byNumber(n1), []string{d.ID}},
		{"by new number", byNumber(n4), []string{a.ID}},
		{"by number of the deleted one", byNumber(n2), []string{first.ID}},
		{"holders", holders, map[string][]porting.NumberHolder{
			n1: {{RequestID: d.ID, AccountID: acct}},
			n4: {{RequestID: a.ID, AccountID: acct}},
		}},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("after the batch, %s (-want +got):\n%s", c.what, diff)
		}
	}

	// A deleted document is written again, continuing its revisions.
	back := claim(cl.Number, d.ID)
	h.putMany(t, "port_number_claims", []*porting.RawDoc{rawOf(t, back)})
	got, err := h.s.GetClaims(ctx(t), []string{cl.Number})
	if err != nil || got[cl.Number] == nil || got[cl.Number].RequestID != d.ID {
		t.Fatalf("claim written over a deleted one: %v, %v", got, err)
	}
	wantRev(t, "claim written over a deleted one", got[cl.Number].Rev, 3)
}

// A batch holding a document with attachments is refused before anything
// is written; a document the store refuses is named in the error.
func testRawPutManyRefuses(t *testing.T, h *harness) {
	h.needRaw(t)
	ok := rawOf(t, bulkRequest(t, newID(t), nil, porting.Submitted, 1000))
	withAtt := rawOf(t, bulkRequest(t, newID(t), nil, porting.Submitted, 1000))
	withAtt.Attachments = map[string]porting.Attachment{"loa.pdf": {ContentType: "application/pdf", Length: 3, Digest: "md5-x"}}
	err := h.raw.RawPutMany(ctx(t), "port_requests", []*porting.RawDoc{ok, withAtt})
	if err == nil || !strings.Contains(err.Error(), withAtt.ID) {
		t.Fatalf("RawPutMany with attachments = %v, want an error naming %s", err, withAtt.ID)
	}
	for _, id := range []string{ok.ID, withAtt.ID} {
		if _, err := h.raw.RawGet(ctx(t), "port_requests", id); !porting.IsKind(err, porting.KindNotFound) {
			t.Errorf("%s after a refused batch: %v, want KindNotFound", id, err)
		}
	}

	bad := rawOf(t, bulkRequest(t, newID(t), nil, porting.Submitted, 1000))
	bad.ID = "_bad_id"
	err = h.raw.RawPutMany(ctx(t), "port_requests", []*porting.RawDoc{ok, bad})
	if err == nil || !strings.Contains(err.Error(), bad.ID) {
		t.Errorf("RawPutMany with an invalid id = %v, want an error naming %s", err, bad.ID)
	}
}

// An empty batch does nothing, not even create its database.
func testRawPutManyEmpty(t *testing.T, h *harness) {
	h.needRaw(t)
	for _, docs := range [][]*porting.RawDoc{nil, {}} {
		if err := h.raw.RawPutMany(ctx(t), "port_requests", docs); err != nil {
			t.Errorf("RawPutMany(%#v): %v", docs, err)
		}
		if err := h.raw.RawPutMany(ctx(t), "numbers/+1999", docs); err != nil {
			t.Errorf("RawPutMany(%#v) into a missing database: %v", docs, err)
		}
	}
	if docs := h.rawDocs(t, "port_requests"); len(docs) != 0 {
		t.Errorf("documents after empty batches: %v", docs)
	}
	n := number("+19995550100", newID(t))
	h.putMany(t, "numbers/+1999", []*porting.RawDoc{rawOf(t, n)})
	if got, err := h.s.GetNumbers(ctx(t), []string{n.Number}); err != nil || got[n.Number] == nil {
		t.Errorf("GetNumbers after a batch of one: %v, %v", got, err)
	}
}

// RawGetMany reads what RawGet reads, for the ids that exist.
func testRawGetMany(t *testing.T, h *harness) {
	h.needRaw(t)
	r := h.newRequest(t, reqSpec{account: newID(t), modified: 1000, numbers: []string{"+12025550100"}})
	h.putAttachment(t, r.ID, r.Rev, "loa.pdf", "application/pdf", strings.NewReader("%PDF-1.4 loa"))
	plain := h.newRequest(t, reqSpec{account: newID(t), modified: 1000})
	live, gone := claim("+12025550100", r.ID), claim("+12025550101", r.ID)
	if _, err := h.s.CreateClaims(ctx(t), []*porting.Claim{live, gone}); err != nil {
		t.Fatal(err)
	}
	if err := h.s.DeleteClaims(ctx(t), []*porting.Claim{gone}); err != nil {
		t.Fatal(err)
	}

	missing := newID(t)
	got, err := h.raw.RawGetMany(ctx(t), "port_requests", []string{r.ID, missing, plain.ID})
	if err != nil {
		t.Fatalf("RawGetMany: %v", err)
	}
	if diff := cmp.Diff(sortedIDs(plain.ID, r.ID), keys(got)); diff != "" {
		t.Errorf("RawGetMany ids (-want +got):\n%s", diff)
	}
	for _, id := range []string{r.ID, plain.ID} {
		one, err := h.raw.RawGet(ctx(t), "port_requests", id)
		if err != nil {
			t.Fatal(err)
		}
		if got[id] == nil || !got[id].Equal(one) {
			t.Errorf("RawGetMany %s = %+v, RawGet %+v", id, got[id], one)
		}
	}
	if got[r.ID] != nil && got[r.ID].Attachments["loa.pdf"].Length != int64(len("%PDF-1.4 loa")) {
		t.Errorf("RawGetMany attachments: %+v", got[r.ID].Attachments)
	}

	claims, err := h.raw.RawGetMany(ctx(t), "port_number_claims", []string{live.Number, gone.Number})
	if err != nil || len(claims) != 1 || claims[live.Number] == nil {
		t.Errorf("RawGetMany of a live and a deleted claim: %v, %v", claims, err)
	}
	for _, tt := range []struct {
		db  string
		ids []string
	}{{"numbers/+1999", []string{"+19995550100"}}, {"port_requests", nil}, {"port_requests", []string{}}} {
		if got, err := h.raw.RawGetMany(ctx(t), tt.db, tt.ids); err != nil || len(got) != 0 {
			t.Errorf("RawGetMany(%s, %v) = %v, %v; want none", tt.db, tt.ids, got, err)
		}
	}
}
