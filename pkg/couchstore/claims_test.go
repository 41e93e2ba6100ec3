package couchstore_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/portreqd/portreqd/pkg/porting"
)

// Requests on two replicas (two stores on one CouchDB) race for one
// number: exactly one wins. The contract checks one store; this is the
// cross-replica guarantee only CouchDB's fixed-id create gives.
func TestCreateClaimsAcrossReplicas(t *testing.T) {
	e := newEnv(t)
	stores := []porting.ClaimStore{e.store, e.open(t)}
	const racers = 20
	var wg sync.WaitGroup
	type outcome struct {
		request string
		taken   []string
		err     error
	}
	results := make([]outcome, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := newID(t)
			c := &porting.Claim{Number: "+12025550100", RequestID: req, AccountID: "acct", Type: porting.ClaimType}
			own := &porting.Claim{Number: fmt.Sprintf("+1303555%04d", i), RequestID: req, AccountID: "acct", Type: porting.ClaimType}
			taken, err := stores[i%len(stores)].CreateClaims(ctx(t), []*porting.Claim{c, own})
			results[i] = outcome{req, taken, err}
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
			winners = append(winners, r.request)
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
