package porting_test

import (
	"context"
	"testing"

	"github.com/portreqd/portreqd/pkg/porting"
)

// TestClaimStats checks the claim counts a submit and a cancel leave: on a
// plain store, on one that reports the request's own claims taken (still
// claimed, by the revision check), and on one where another request's
// claim stands beside ours (lost, our revision released).
func TestClaimStats(t *testing.T) {
	for _, tc := range []struct {
		name   string
		store  func(porting.Store) porting.Store
		cancel bool // the submit succeeds; cancel it
		want   []porting.ClaimStats
	}{
		{"plain", func(s porting.Store) porting.Store { return s }, true,
			[]porting.ClaimStats{{Claimed: 2}, {Claimed: 2, Released: 2}}},
		{"reported taken but ours", func(s porting.Store) porting.Store { return echoingStore{s} }, true,
			[]porting.ClaimStats{{Claimed: 2}, {Claimed: 2, Released: 2}}},
		{"lost to another request", func(s porting.Store) porting.Store { return splitStore{echoingStore{s}} }, false,
			[]porting.ClaimStats{{Released: 2, Lost: 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, porting.Rules{})
			ctx := context.Background()
			svc := porting.NewService(porting.Config{Store: tc.store(w.store)})
			r, err := svc.CreateRequest(ctx, w.customer, w.customer.ID, fields(t, `{"name":"stats","numbers":{"+12025550161":{},"+12025550162":{}}}`))
			if err != nil {
				t.Fatal(err)
			}
			if got := svc.ClaimStats(); got != (porting.ClaimStats{}) {
				t.Errorf("after create: %+v, want none", got)
			}
			_, err = svc.Transition(ctx, w.customer, w.customer.ID, r.ID, porting.Submitted, porting.TransitionInput{Data: porting.Fields{}})
			if (err == nil) != tc.cancel {
				t.Fatalf("submit: %v", err)
			}
			if got := svc.ClaimStats(); got != tc.want[0] {
				t.Errorf("after submit: %+v, want %+v", got, tc.want[0])
			}
			if !tc.cancel {
				return
			}
			if _, err := svc.Transition(ctx, w.reseller, w.customer.ID, r.ID, porting.Canceled, porting.TransitionInput{Data: porting.Fields{}}); err != nil {
				t.Fatal(err)
			}
			if got := svc.ClaimStats(); got != tc.want[1] {
				t.Errorf("after cancel: %+v, want %+v", got, tc.want[1])
			}
		})
	}
}
