package porting_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/porting"
)

// TestPlanListState is the listing window and cursor rules as a table: what
// a listing of one state reads (window, cursor, page) for each query, and
// which queries are refused, with no HTTP in between.
func TestPlanListState(t *testing.T) {
	w := newWorld(t, porting.Rules{})
	id := "0123456789abcdef0123456789abcdef"
	const to = int64(63900000000)
	cases := []struct {
		name    string
		state   porting.State
		o       porting.ListOptions
		actor   func() *porting.Account
		want    porting.ListQuery // Account filled in below
		paged   bool
		start   any
		errKind porting.Kind
	}{
		{name: "completed, given window, default page", state: porting.Completed,
			o:     porting.ListOptions{From: to - 100, To: to},
			want:  porting.ListQuery{State: porting.Completed, From: to - 100, To: to, Limit: porting.DefaultPageSize},
			paged: true, start: []any{"", "completed", to}},
		{name: "canceled, widest window", state: porting.Canceled,
			o:     porting.ListOptions{From: to - porting.MaxWindow, To: to, PageSize: 7},
			want:  porting.ListQuery{State: porting.Canceled, From: to - porting.MaxWindow, To: to, Limit: 7},
			paged: true, start: []any{"", "canceled", to}},
		{name: "window one second too wide", state: porting.Completed,
			o: porting.ListOptions{From: to - porting.MaxWindow - 1, To: to}, errKind: porting.KindValidation},
		{name: "window reversed", state: porting.Completed,
			o: porting.ListOptions{From: to + 1, To: to}, errKind: porting.KindValidation},
		{name: "unpaginated", state: porting.Completed,
			o:     porting.ListOptions{From: to - 10, To: to, NoPaginate: true},
			want:  porting.ListQuery{State: porting.Completed, From: to - 10, To: to},
			start: []any{"", "completed", to}},
		{name: "next_start_key resumes after the row", state: porting.Completed,
			o:     porting.ListOptions{From: to - 10, To: to, StartKey: "63899999995:" + id},
			want:  porting.ListQuery{State: porting.Completed, From: to - 10, To: to, Limit: 50, After: &porting.Cursor{Modified: 63899999995, ID: id}},
			paged: true, start: "63899999995:" + id},
		{name: "timestamp start_key", state: porting.Completed,
			o:     porting.ListOptions{From: to - 10, To: to, StartKey: " 63899999995 "},
			want:  porting.ListQuery{State: porting.Completed, From: to - 10, To: to, Limit: 50, After: &porting.Cursor{Modified: 63899999995}},
			paged: true, start: " 63899999995 "},
		{name: "the seed's array start_key, with an id", state: porting.Completed,
			o:     porting.ListOptions{From: to - 10, To: to, StartKey: `["x","completed",63899999995,"` + id + `"]`},
			want:  porting.ListQuery{State: porting.Completed, From: to - 10, To: to, Limit: 50, After: &porting.Cursor{Modified: 63899999995, ID: id}},
			paged: true, start: `["x","completed",63899999995,"` + id + `"]`},
		{name: "start_key of words", state: porting.Completed,
			o: porting.ListOptions{From: to - 10, To: to, StartKey: "yesterday"}, errKind: porting.KindValidation},
		{name: "next_start_key with a bad id", state: porting.Completed,
			o: porting.ListOptions{From: to - 10, To: to, StartKey: "63899999995:nothex"}, errKind: porting.KindValidation},
		{name: "short array start_key", state: porting.Completed,
			o: porting.ListOptions{From: to - 10, To: to, StartKey: `["x",1]`}, errKind: porting.KindValidation},
		{name: "working state: whole, no window, no page", state: porting.Submitted,
			o:    porting.ListOptions{From: to - 10, To: to, StartKey: "ignored", PageSize: 3},
			want: porting.ListQuery{State: porting.Submitted}},
		{name: "descendants", state: porting.Pending, o: porting.ListOptions{Descendants: true},
			want: porting.ListQuery{State: porting.Pending, Descendants: true}},
		{name: "a stranger's tree", state: porting.Completed, actor: func() *porting.Account { return w.stranger },
			o: porting.ListOptions{From: to - 10, To: to}, errKind: porting.KindForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			actor := w.reseller
			if c.actor != nil {
				actor = c.actor()
			}
			p, err := w.svc.PlanListState(context.Background(), actor, w.customer.ID, c.state, c.o)
			if c.errKind != 0 {
				if !porting.IsKind(err, c.errKind) {
					t.Fatalf("error %v, want kind %v", err, c.errKind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := c.want
			want.Account = w.customer.ID
			if diff := cmp.Diff([]porting.ListQuery{want}, p.Queries); diff != "" {
				t.Errorf("queries (-want +got):\n%s", diff)
			}
			start := c.start
			if arr, ok := start.([]any); ok {
				start = []any{w.customer.ID, arr[1], arr[2]}
			}
			if p.Paginated != c.paged || !cmp.Equal(start, p.StartKey) {
				t.Errorf("paginated %v, start_key %#v; want %v, %#v", p.Paginated, p.StartKey, c.paged, start)
			}
		})
	}
}

// TestDefaultWindow: without modified_from/modified_to a windowed listing
// covers the 31 days ending now.
func TestDefaultWindow(t *testing.T) {
	w := newWorld(t, porting.Rules{})
	before := porting.Gregorian(time.Unix(w.clock.Load(), 0))
	p, err := w.svc.PlanListState(context.Background(), w.customer, w.customer.ID, porting.Completed, porting.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	q := p.Queries[0]
	if q.To <= before || q.To-q.From != porting.MaxWindow {
		t.Errorf("window %d..%d, want the %d seconds ending after %d", q.From, q.To, porting.MaxWindow, before)
	}
}

// TestNextStartKeyRoundTrip: a page's next_start_key given back resumes
// strictly after its last row.
func TestNextStartKeyRoundTrip(t *testing.T) {
	w := newWorld(t, porting.Rules{})
	r := &porting.Request{ID: "fedcba9876543210fedcba9876543210", Modified: 63900000123}
	p, err := w.svc.PlanListState(context.Background(), w.customer, w.customer.ID, porting.Completed,
		porting.ListOptions{From: 63900000000, To: 63900000200, StartKey: porting.NextStartKey(r)})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Queries[0].After; got == nil || *got != (porting.Cursor{Modified: r.Modified, ID: r.ID}) {
		t.Errorf("cursor %+v, want after %d/%s", got, r.Modified, r.ID)
	}
}

// TestPlanListAll: the all-states listing reads every state, the working
// ones whole and unconfirmed, completed and canceled within the window.
func TestPlanListAll(t *testing.T) {
	w := newWorld(t, porting.Rules{})
	p, err := w.svc.PlanListAll(context.Background(), w.customer, w.customer.ID, porting.ListOptions{From: 100, To: 200})
	if err != nil {
		t.Fatal(err)
	}
	var want []porting.ListQuery
	for _, st := range porting.States {
		q := porting.ListQuery{Account: w.customer.ID, State: st}
		if st == porting.Unconfirmed || st == porting.Completed || st == porting.Canceled {
			q.From, q.To = 100, 200
		}
		want = append(want, q)
	}
	if diff := cmp.Diff(want, p.Queries); diff != "" {
		t.Errorf("queries (-want +got):\n%s", diff)
	}
	if _, err := w.svc.PlanListAll(context.Background(), w.stranger, w.customer.ID, porting.ListOptions{}); !porting.IsKind(err, porting.KindForbidden) {
		t.Errorf("a stranger: %v, want forbidden", err)
	}
}

// TestPlanByNumberAndListedThrough: by_number takes a number in any
// writing and shows an account's own requests, or its subtree's with
// descendants.
func TestPlanByNumberAndListedThrough(t *testing.T) {
	w := newWorld(t, porting.Rules{})
	if n, err := w.svc.PlanByNumber(context.Background(), w.customer, w.customer.ID, "+13125550100"); err != nil || n != "+13125550100" {
		t.Errorf("PlanByNumber: %q, %v", n, err)
	}
	if _, err := w.svc.PlanByNumber(context.Background(), w.customer, w.customer.ID, "not a number"); !porting.IsKind(err, porting.KindValidation) {
		t.Errorf("PlanByNumber of words: %v, want a validation error", err)
	}
	r := &porting.Request{AccountID: w.customer.ID, Tree: []string{w.master.ID, w.reseller.ID}}
	for _, c := range []struct {
		through     string
		descendants bool
		want        bool
	}{
		{w.customer.ID, false, true},
		{w.reseller.ID, false, false},
		{w.reseller.ID, true, true},
		{w.stranger.ID, true, false},
	} {
		if got := r.ListedThrough(c.through, c.descendants); got != c.want {
			t.Errorf("ListedThrough(%s, %v) = %v, want %v", c.through, c.descendants, got, c.want)
		}
	}
}
