package storetest

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/porting"
)

var claimTests = []test{
	{"Claims", testClaims},
	{"CreateClaimsConcurrently", testCreateClaimsConcurrently},
}

func claim(number, request string) *porting.Claim {
	return &porting.Claim{Number: number, RequestID: request, AccountID: "acct", Created: 63900000000, Type: porting.ClaimType}
}

// keys lists the keys of m sorted.
func keys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func testClaims(t *testing.T, h *harness) {
	reqA, reqB := newID(t), newID(t)
	first := []*porting.Claim{claim("+12025550100", reqA), claim("+12025550101", reqA)}
	taken, err := h.s.CreateClaims(ctx(t), first)
	if err != nil {
		t.Fatalf("CreateClaims: %v", err)
	}
	if taken == nil || len(taken) != 0 {
		t.Errorf("taken = %#v, want an empty list", taken)
	}
	for _, c := range first {
		wantRev(t, "claim "+c.Number, c.Rev, 1)
	}
	if h.raw != nil {
		raw := h.rawDoc(t, "port_number_claims", "+12025550100")
		if raw["port_request_id"] != reqA || raw["pvt_type"] != porting.ClaimType {
			t.Errorf("stored claim = %v", raw)
		}
	}

	// Partly taken: the free number is claimed, the taken one reported.
	untyped := claim("+12025550102", reqB)
	untyped.Type = ""
	second := []*porting.Claim{claim("+12025550101", reqB), untyped}
	taken, err = h.s.CreateClaims(ctx(t), second)
	if err != nil {
		t.Fatalf("CreateClaims: %v", err)
	}
	if diff := cmp.Diff([]string{"+12025550101"}, taken); diff != "" {
		t.Errorf("taken (-want +got):\n%s", diff)
	}
	if second[0].Rev != "" {
		t.Errorf("taken claim got a rev: %q", second[0].Rev)
	}
	if untyped.Rev == "" || untyped.Type != porting.ClaimType {
		t.Errorf("free number of a partly taken set: rev %q type %q", untyped.Rev, untyped.Type)
	}
	// The same number twice in one call: the second is taken by the first.
	twice := []*porting.Claim{claim("+12025550103", reqA), claim("+12025550103", reqB)}
	if taken, err := h.s.CreateClaims(ctx(t), twice); err != nil || !slices.Equal(taken, []string{"+12025550103"}) {
		t.Errorf("one number twice: taken %v, err %v", taken, err)
	}

	got, err := h.s.GetClaims(ctx(t), []string{"+12025550100", "+12025550101", "+12025550102", "+12025550199"})
	if err != nil {
		t.Fatalf("GetClaims: %v", err)
	}
	want := map[string]*porting.Claim{"+12025550100": first[0], "+12025550101": first[1], "+12025550102": untyped}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetClaims (-want +got):\n%s", diff)
	}

	// One claim deleted at its rev, one at a stale rev (left alone), one
	// never stored (no rev), one unknown.
	staleB := *untyped
	staleB.Rev = "1-00000000000000000000000000000000"
	unknown := claim("+12025550198", reqB)
	unknown.Rev = "1-00000000000000000000000000000000"
	if err := h.s.DeleteClaims(ctx(t), []*porting.Claim{first[0], first[1], &staleB, second[0], unknown}); err != nil {
		t.Fatalf("DeleteClaims: %v", err)
	}
	got, err = h.s.GetClaims(ctx(t), []string{"+12025550100", "+12025550101", "+12025550102"})
	if err != nil {
		t.Fatalf("GetClaims: %v", err)
	}
	if diff := cmp.Diff([]string{"+12025550102"}, keys(got)); diff != "" {
		t.Errorf("claims left (-want +got):\n%s", diff)
	}

	// A released number can be claimed again; its revisions continue.
	again := []*porting.Claim{claim("+12025550100", reqB)}
	if taken, err := h.s.CreateClaims(ctx(t), again); err != nil || len(taken) != 0 {
		t.Errorf("re-claim released number: taken %v, err %v", taken, err)
	}
	wantRev(t, "re-created claim", again[0].Rev, 3)
	if err := h.s.DeleteClaims(ctx(t), []*porting.Claim{first[0]}); err != nil {
		t.Errorf("DeleteClaims at the released rev: %v", err)
	}
	if got, err := h.s.GetClaims(ctx(t), []string{"+12025550100"}); err != nil || got["+12025550100"] == nil ||
		got["+12025550100"].RequestID != reqB {
		t.Errorf("claim taken again must survive a delete at the old rev: %v, %v", got, err)
	}

	if err := h.s.DeleteClaims(ctx(t), nil); err != nil {
		t.Errorf("DeleteClaims(nil): %v", err)
	}
	if got, err := h.s.GetClaims(ctx(t), nil); err != nil || len(got) != 0 {
		t.Errorf("GetClaims(nil) = %v, %v", got, err)
	}
	if taken, err := h.s.CreateClaims(ctx(t), nil); err != nil || len(taken) != 0 {
		t.Errorf("CreateClaims(nil) = %v, %v", taken, err)
	}
}

// Requests race for one number: exactly one wins, every other call reports
// it taken, and each caller's uncontended number is claimed.
func testCreateClaimsConcurrently(t *testing.T, h *harness) {
	const racers = 20
	var wg sync.WaitGroup
	type outcome struct {
		claim, own *porting.Claim
		taken      []string
		err        error
	}
	results := make([]outcome, racers)
	start := make(chan struct{})
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := claim("+12025550100", newID(t))
			own := claim(fmt.Sprintf("+1303555%04d", i), c.RequestID) // uncontended
			<-start
			taken, err := h.s.CreateClaims(ctx(t), []*porting.Claim{c, own})
			results[i] = outcome{c, own, taken, err}
		}()
	}
	close(start)
	wg.Wait()
	var winners []string
	for _, r := range results {
		if r.err != nil {
			t.Fatalf("CreateClaims: %v", r.err)
		}
		if len(r.taken) > 1 || r.own.Rev == "" {
			t.Errorf("taken %v, own claim rev %q: only the shared number is contended", r.taken, r.own.Rev)
		}
		if !slices.Contains(r.taken, "+12025550100") {
			winners = append(winners, r.claim.RequestID)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d winners, want exactly 1", len(winners))
	}
	got, err := h.s.GetClaims(ctx(t), []string{"+12025550100"})
	if err != nil {
		t.Fatal(err)
	}
	if c := got["+12025550100"]; c == nil || c.RequestID != winners[0] {
		t.Errorf("stored claim %+v, winner %s", c, winners[0])
	}
}
