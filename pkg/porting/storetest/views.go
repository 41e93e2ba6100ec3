package storetest

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/portreqd/portreqd/pkg/porting"
)

// The queries Kazoo serves from views (besides listings): requests by
// number, active holders of numbers, and how every view follows a
// document's updates.
var viewTests = []test{
	{"RequestsByNumber", testRequestsByNumber},
	{"ActiveHolders", testActiveHolders},
	{"IndexesFollowUpdates", testIndexesFollowUpdates},
}

func testRequestsByNumber(t *testing.T, h *harness) {
	acct := newID(t)
	a := h.newRequest(t, reqSpec{account: acct, modified: 100, numbers: []string{"+12025550100", "+12025550101"}})
	b := h.newRequest(t, reqSpec{account: acct, state: porting.Canceled, modified: 200, numbers: []string{"+12025550100"}})
	c := h.newRequest(t, reqSpec{account: newID(t), state: porting.Completed, modified: 50, numbers: []string{"+12025550100"}})
	h.newRequest(t, reqSpec{account: acct, modified: 300, numbers: []string{"+12025550100"}, deleted: true})
	h.newRequest(t, reqSpec{account: acct, modified: 400, numbers: []string{"+12025550102"}})

	tests := []struct {
		number string
		want   []string
	}{
		{"+12025550100", sortedIDs(a.ID, b.ID, c.ID)}, // document id order
		{"+12025550101", []string{a.ID}},
		{"+1202555010", []string{}}, // a prefix of numbers is no number
		{"+12025550199", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.number, func(t *testing.T) {
			got, err := h.s.RequestsByNumber(ctx(t), tt.number)
			if err != nil {
				t.Fatalf("RequestsByNumber: %v", err)
			}
			if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// ActiveHolders is Kazoo's port_in_numbers view: undeleted submitted,
// pending and scheduled requests, per number, by request id.
func testActiveHolders(t *testing.T, h *harness) {
	acct, other := newID(t), newID(t)
	n1, n2, n3 := "+12025550100", "+12025550101", "+13035550100"
	var active []*porting.Request
	for _, st := range []porting.State{porting.Submitted, porting.Pending, porting.Scheduled} {
		active = append(active, h.newRequest(t, reqSpec{account: acct, state: st, modified: 100, numbers: []string{n1}}))
	}
	o := h.newRequest(t, reqSpec{account: other, modified: 100, numbers: []string{n2, n3}})
	for _, st := range []porting.State{porting.Unconfirmed, porting.Rejected, porting.Completed, porting.Canceled} {
		h.newRequest(t, reqSpec{account: acct, state: st, modified: 100, numbers: []string{n1, n2}})
	}
	h.newRequest(t, reqSpec{account: acct, modified: 100, numbers: []string{n1, n2}, deleted: true})

	got, err := h.s.ActiveHolders(ctx(t), []string{n1, n2, n3, "+14155550100"})
	if err != nil {
		t.Fatalf("ActiveHolders: %v", err)
	}
	slices.SortFunc(active, func(a, b *porting.Request) int { return strings.Compare(a.ID, b.ID) })
	holder := func(r *porting.Request) porting.NumberHolder {
		return porting.NumberHolder{RequestID: r.ID, AccountID: r.AccountID}
	}
	want := map[string][]porting.NumberHolder{
		n1: {holder(active[0]), holder(active[1]), holder(active[2])},
		n2: {holder(o)},
		n3: {holder(o)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ActiveHolders (-want +got):\n%s", diff)
	}
	if got, err := h.s.ActiveHolders(ctx(t), nil); err != nil || len(got) != 0 {
		t.Errorf("ActiveHolders(nil) = %v, %v", got, err)
	}
}

// Every view follows a document through its updates: a new state, a new
// modified time, other numbers, soft deletion.
func testIndexesFollowUpdates(t *testing.T, h *harness) {
	root, acct := newID(t), newID(t)
	r := h.newRequest(t, reqSpec{account: acct, tree: []string{root}, modified: 1000, numbers: []string{"+12025550100"}})
	listed := func(state porting.State, descendants bool) []string {
		t.Helper()
		owner := acct
		if descendants {
			owner = root
		}
		return ids(h.list(t, porting.ListQuery{Account: owner, Descendants: descendants, State: state}).Requests())
	}
	byNumber := func(n string) []string {
		t.Helper()
		got, err := h.s.RequestsByNumber(ctx(t), n)
		if err != nil {
			t.Fatalf("RequestsByNumber: %v", err)
		}
		return ids(got)
	}
	holders := func(n string) int {
		t.Helper()
		got, err := h.s.ActiveHolders(ctx(t), []string{n})
		if err != nil {
			t.Fatalf("ActiveHolders: %v", err)
		}
		return len(got[n])
	}
	if !slices.Equal(listed(porting.Submitted, false), []string{r.ID}) || holders("+12025550100") != 1 {
		t.Fatalf("new request not indexed")
	}

	r.State, r.Modified = porting.Pending, 2000
	r.Public.Set("numbers", map[string]any{"+12025550101": map[string]any{}})
	h.update(t, r)
	checks := []struct {
		what      string
		got, want any
	}{
		{"submitted", listed(porting.Submitted, false), []string{}},
		{"submitted below root", listed(porting.Submitted, true), []string{}},
		{"pending", listed(porting.Pending, false), []string{r.ID}},
		{"pending below root", listed(porting.Pending, true), []string{r.ID}},
		{"old number", byNumber("+12025550100"), []string{}},
		{"new number", byNumber("+12025550101"), []string{r.ID}},
		{"holders of old number", holders("+12025550100"), 0},
		{"holders of new number", holders("+12025550101"), 1},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("after update, %s (-want +got):\n%s", c.what, diff)
		}
	}
	p := h.list(t, porting.ListQuery{Account: acct, State: porting.Pending, From: 1500, To: 2500})
	if len(p.Requests()) != 1 {
		t.Errorf("listing at the new modified time: %v", ids(p.Requests()))
	}
	if p := h.list(t, porting.ListQuery{Account: acct, State: porting.Pending, From: 500, To: 1500}); len(p.Requests()) != 0 {
		t.Errorf("listing at the old modified time: %v", ids(p.Requests()))
	}

	r.Deleted = true
	h.update(t, r)
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"pending", listed(porting.Pending, false), []string{}},
		{"pending below root", listed(porting.Pending, true), []string{}},
		{"number", byNumber("+12025550101"), []string{}},
		{"holders", holders("+12025550101"), 0},
	} {
		if diff := cmp.Diff(c.want, c.got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("after soft delete, %s (-want +got):\n%s", c.what, diff)
		}
	}
	if got := h.getRequest(t, r.ID); !got.Deleted || got.Rev != r.Rev {
		t.Errorf("GetRequest after soft delete: Deleted %v rev %s, want true %s", got.Deleted, got.Rev, r.Rev)
	}
}
