package storetest

import (
	"cmp"
	"slices"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/porting"
)

var listingTests = []test{
	{"ListRequests", testListRequests},
	{"ListRequestsPaging", testListRequestsPaging},
	{"ListRequestsDescendants", testListRequestsDescendants},
}

// ids lists request ids in order, for readable diffs.
func ids(rs []*porting.Request) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// sortedIDs is ids sorted.
func sortedIDs(ids ...string) []string {
	out := append([]string{}, ids...)
	slices.Sort(out)
	return out
}

// listingOrder sorts requests as a listing shows them: modified desc, id desc.
func listingOrder(rs []*porting.Request) []string {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b *porting.Request) int {
		return cmp.Or(cmp.Compare(b.Modified, a.Modified), cmp.Compare(b.ID, a.ID))
	})
	return ids(s)
}

// list runs ListRequests and fails the test on error.
func (h *harness) list(t *testing.T, q porting.ListQuery) *Page {
	t.Helper()
	p, err := ListRequests(ctx(t), h.s, q)
	if err != nil {
		t.Fatalf("ListRequests(%+v): %v", q, err)
	}
	return p
}

// listAll pages through a listing limit rows at a time, resuming after the
// last row of each page, and returns the concatenated pages.
func (h *harness) listAll(t *testing.T, q porting.ListQuery, limit int) []string {
	t.Helper()
	q.Limit = limit
	var out []string
	for range 1000 {
		p := h.list(t, q)
		if len(p.Requests()) > limit {
			t.Fatalf("page of %d rows, limit %d", len(p.Requests()), limit)
		}
		out = append(out, ids(p.Requests())...)
		if !p.More {
			return out
		}
		if len(p.Requests()) == 0 {
			t.Fatal("empty page with More")
		}
		last := p.Requests()[len(p.Requests())-1]
		q.After = &porting.Cursor{Modified: last.Modified, ID: last.ID}
	}
	t.Fatal("listing never ended")
	return nil
}

func testListRequests(t *testing.T, h *harness) {
	acct := newID(t)
	var subm []*porting.Request
	// 7 rows in one second between others, to page through.
	for _, m := range []int64{1000, 1005, 1005, 1005, 1005, 1005, 1005, 1005, 1010, 1020, 990} {
		subm = append(subm, h.newRequest(t, reqSpec{account: acct, modified: m}))
	}
	pend := h.newRequest(t, reqSpec{account: acct, state: porting.Pending, modified: 1005})
	h.newRequest(t, reqSpec{account: acct, modified: 1015, deleted: true})
	h.newRequest(t, reqSpec{account: newID(t), modified: 1005}) // another account
	// An account whose id extends acct's must not leak in.
	h.newRequest(t, reqSpec{account: acct + "0", modified: 1005})

	all := listingOrder(subm)
	at := func(m int64) []*porting.Request {
		var out []*porting.Request
		for _, r := range subm {
			if r.Modified == m {
				out = append(out, r)
			}
		}
		return out
	}
	crowd := listingOrder(at(1005)) // id desc
	tests := []struct {
		name string
		q    porting.ListQuery
		want []string
		more bool
	}{
		{"all", porting.ListQuery{}, all, false},
		{"limit", porting.ListQuery{Limit: 3}, all[:3], true},
		{"limit exact", porting.ListQuery{Limit: len(all)}, all, false},
		{"limit one short", porting.ListQuery{Limit: len(all) - 1}, all[:len(all)-1], true},
		{"window", porting.ListQuery{From: 1005, To: 1010}, listingOrder(append(at(1010), at(1005)...)), false},
		{"window of one second", porting.ListQuery{From: 1005, To: 1005}, crowd, false},
		{"from only", porting.ListQuery{From: 1010}, listingOrder(append(at(1020), at(1010)...)), false},
		{"to only", porting.ListQuery{To: 1000}, listingOrder(append(at(1000), at(990)...)), false},
		{"empty window", porting.ListQuery{From: 1001, To: 1004}, []string{}, false},
		{"reversed window", porting.ListQuery{From: 1010, To: 1000}, []string{}, false},
		{"timestamp cursor inclusive", porting.ListQuery{After: &porting.Cursor{Modified: 1005}, Limit: 2}, crowd[:2], true},
		{"cursor inside a second", porting.ListQuery{After: &porting.Cursor{Modified: 1005, ID: crowd[2]}},
			append(crowd[3:], listingOrder(append(at(1000), at(990)...))...), false},
		{"cursor at the last of a second", porting.ListQuery{After: &porting.Cursor{Modified: 1005, ID: crowd[6]}, Limit: 1},
			listingOrder(at(1000)), true},
		{"cursor id not stored", porting.ListQuery{After: &porting.Cursor{Modified: 1005, ID: "8"}},
			append(idsBelow(crowd, "8"), listingOrder(append(at(1000), at(990)...))...), false},
		{"cursor above To", porting.ListQuery{To: 1005, After: &porting.Cursor{Modified: 1010, ID: "f"}}, all[2:], false},
		{"cursor at To", porting.ListQuery{To: 1005, After: &porting.Cursor{Modified: 1005, ID: crowd[0]}}, all[3:], false},
		{"cursor below To", porting.ListQuery{To: 1020, After: &porting.Cursor{Modified: 1010, ID: "g"}}, all[1:], false},
		{"cursor below From", porting.ListQuery{From: 1005, After: &porting.Cursor{Modified: 1000}}, []string{}, false},
		{"cursor past the oldest", porting.ListQuery{After: &porting.Cursor{Modified: 990, ID: all[len(all)-1]}}, []string{}, false},
		{"other state", porting.ListQuery{State: porting.Pending}, []string{pend.ID}, false},
		{"no such state", porting.ListQuery{State: porting.Completed}, []string{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			q.Account = acct
			if q.State == "" {
				q.State = porting.Submitted
			}
			p := h.list(t, q)
			if diff := gocmp.Diff(tt.want, ids(p.Requests())); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			if p.More != tt.more {
				t.Errorf("More = %v, want %v", p.More, tt.more)
			}
		})
	}
	t.Run("pages of 3", func(t *testing.T) {
		got := h.listAll(t, porting.ListQuery{Account: acct, State: porting.Submitted}, 3)
		if diff := gocmp.Diff(all, got); diff != "" {
			t.Errorf("concatenated pages (-want +got):\n%s", diff)
		}
	})
	t.Run("pages of 3 in a window", func(t *testing.T) {
		got := h.listAll(t, porting.ListQuery{Account: acct, State: porting.Submitted, From: 1000, To: 1010}, 3)
		want := listingOrder(append(append(at(1010), at(1005)...), at(1000)...))
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Errorf("concatenated pages (-want +got):\n%s", diff)
		}
	})
}

// idsBelow is the ids of desc (sorted descending) below id.
func idsBelow(desc []string, id string) []string {
	out := []string{}
	for _, x := range desc {
		if x < id {
			out = append(out, x)
		}
	}
	return out
}

// Pages must tile the listing exactly, however many rows share a second.
func testListRequestsPaging(t *testing.T, h *harness) {
	acct := newID(t)
	var rs []*porting.Request
	for i := range 40 {
		m := int64(5000)
		if i%4 == 0 {
			m = 5000 + int64(i) // a few others around the crowd
		}
		if i%10 == 3 {
			m = 4000
		}
		rs = append(rs, h.newRequest(t, reqSpec{account: acct, modified: m}))
	}
	want := listingOrder(rs)
	for _, limit := range []int{1, 3, 7, 25, 39, 40, 100} {
		got := h.listAll(t, porting.ListQuery{Account: acct, State: porting.Submitted}, limit)
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Errorf("limit %d: concatenated pages (-want +got):\n%s", limit, diff)
		}
	}
}

// A request is listed under its account and each ancestor with the
// descendants view, and only under its own account without it.
func testListRequestsDescendants(t *testing.T, h *harness) {
	root, child, grandchild := newID(t), newID(t), newID(t)
	own := h.newRequest(t, reqSpec{account: root, modified: 100})
	mid := h.newRequest(t, reqSpec{account: child, tree: []string{root}, modified: 200})
	deep := h.newRequest(t, reqSpec{account: grandchild, tree: []string{root, child}, modified: 300})
	h.newRequest(t, reqSpec{account: newID(t), modified: 400})                                            // a stranger
	h.newRequest(t, reqSpec{account: newID(t), tree: []string{root}, modified: 500, deleted: true})       // deleted
	h.newRequest(t, reqSpec{account: child, tree: []string{root}, state: porting.Pending, modified: 600}) // other state

	tests := []struct {
		name        string
		account     string
		descendants bool
		want        []string
	}{
		{"root only", root, false, []string{own.ID}},
		{"root tree", root, true, []string{deep.ID, mid.ID, own.ID}},
		{"child tree", child, true, []string{deep.ID, mid.ID}},
		{"grandchild tree", grandchild, true, []string{deep.ID}},
		{"grandchild only", grandchild, false, []string{deep.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := porting.ListQuery{Account: tt.account, Descendants: tt.descendants, State: porting.Submitted}
			if diff := gocmp.Diff(tt.want, ids(h.list(t, q).Requests())); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if got := h.listAll(t, q, 1); !slices.Equal(got, tt.want) {
				t.Errorf("paged by 1: %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("window", func(t *testing.T) {
		q := porting.ListQuery{Account: root, Descendants: true, State: porting.Submitted, From: 150, To: 250}
		if diff := gocmp.Diff([]string{mid.ID}, ids(h.list(t, q).Requests())); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}
