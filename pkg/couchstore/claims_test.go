package couchstore_test

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/porting"
)

func claim(number, request string) *porting.Claim {
	return &porting.Claim{Number: number, RequestID: request, AccountID: "acct", Created: 63900000000, Type: porting.ClaimType}
}

func TestClaims(t *testing.T) {
	e := newEnv(t)
	reqA, reqB := newID(t), newID(t)
	first := []*porting.Claim{claim("+12025550100", reqA), claim("+12025550101", reqA)}
	taken, err := e.store.CreateClaims(ctx(t), first)
	if err != nil {
		t.Fatalf("CreateClaims: %v", err)
	}
	if len(taken) != 0 {
		t.Errorf("taken = %v, want none", taken)
	}
	for _, c := range first {
		if c.Rev == "" {
			t.Errorf("claim %s: Rev not set", c.Number)
		}
	}
	raw := e.rawDoc(t, "port_number_claims", "+12025550100")
	if raw["port_request_id"] != reqA || raw["pvt_type"] != porting.ClaimType {
		t.Errorf("stored claim = %v", raw)
	}

	second := []*porting.Claim{claim("+12025550101", reqB), claim("+12025550102", reqB)}
	taken, err = e.store.CreateClaims(ctx(t), second)
	if err != nil {
		t.Fatalf("CreateClaims: %v", err)
	}
	if diff := cmp.Diff([]string{"+12025550101"}, taken); diff != "" {
		t.Errorf("taken (-want +got):\n%s", diff)
	}
	if second[1].Rev == "" {
		t.Error("free number of a partly taken set not claimed")
	}

	got, err := e.store.GetClaims(ctx(t), []string{"+12025550100", "+12025550101", "+12025550102", "+12025550199"})
	if err != nil {
		t.Fatalf("GetClaims: %v", err)
	}
	want := map[string]*porting.Claim{"+12025550100": first[0], "+12025550101": first[1], "+12025550102": second[1]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetClaims (-want +got):\n%s", diff)
	}

	// One claim deleted at its rev, one at a stale rev (left alone).
	staleB := *second[1]
	staleB.Rev = "1-00000000000000000000000000000000"
	if err := e.store.DeleteClaims(ctx(t), []*porting.Claim{first[0], first[1], &staleB}); err != nil {
		t.Fatalf("DeleteClaims: %v", err)
	}
	got, err = e.store.GetClaims(ctx(t), []string{"+12025550100", "+12025550101", "+12025550102"})
	if err != nil {
		t.Fatalf("GetClaims: %v", err)
	}
	if diff := cmp.Diff([]string{"+12025550102"}, keys(got)); diff != "" {
		t.Errorf("claims left (-want +got):\n%s", diff)
	}

	// A released number can be claimed again.
	again := []*porting.Claim{claim("+12025550100", reqB)}
	if taken, err := e.store.CreateClaims(ctx(t), again); err != nil || len(taken) != 0 {
		t.Errorf("re-claim released number: taken %v, err %v", taken, err)
	}
	if err := e.store.DeleteClaims(ctx(t), nil); err != nil {
		t.Errorf("DeleteClaims(nil): %v", err)
	}
	if got, err := e.store.GetClaims(ctx(t), nil); err != nil || len(got) != 0 {
		t.Errorf("GetClaims(nil) = %v, %v", got, err)
	}
}

// Requests on several replicas race for one number: exactly one wins.
func TestCreateClaimsConcurrently(t *testing.T) {
	e := newEnv(t)
	stores := []porting.ClaimStore{e.store, e.open(t)}
	const racers = 20
	var wg sync.WaitGroup
	type outcome struct {
		claim *porting.Claim
		taken []string
		err   error
	}
	results := make([]outcome, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := claim("+12025550100", newID(t))
			own := claim(fmt.Sprintf("+1303555%04d", i), c.RequestID) // uncontended
			taken, err := stores[i%len(stores)].CreateClaims(ctx(t), []*porting.Claim{c, own})
			results[i] = outcome{c, taken, err}
		}()
	}
	wg.Wait()
	var winners []string
	for _, r := range results {
		if r.err != nil {
			t.Fatalf("CreateClaims: %v", r.err)
		}
		if len(r.taken) > 1 {
			t.Errorf("taken %v: only the shared number is contended", r.taken)
		}
		if !slices.Contains(r.taken, "+12025550100") {
			winners = append(winners, r.claim.RequestID)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d winners, want exactly 1", len(winners))
	}
	got, err := e.store.GetClaims(ctx(t), []string{"+12025550100"})
	if err != nil {
		t.Fatal(err)
	}
	if c := got["+12025550100"]; c == nil || c.RequestID != winners[0] {
		t.Errorf("stored claim %+v, winner %s", c, winners[0])
	}
}

// keys lists the keys of m sorted.
func keys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
