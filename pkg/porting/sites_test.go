package porting_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/portreqd/portreqd/pkg/kazoo"
	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
	"github.com/portreqd/portreqd/pkg/porting"
)

func TestClaimWinner(t *testing.T) {
	c := func(created int64, site, req string) *porting.Claim {
		return &porting.Claim{Created: created, Site: site, RequestID: req}
	}
	for _, tc := range []struct {
		name   string
		claims []*porting.Claim
		want   string
	}{
		{"earliest wins", []*porting.Claim{c(20, "a", "r1"), c(10, "b", "r2"), c(30, "c", "r3")}, "r2"},
		{"same second: the lower site", []*porting.Claim{c(10, "b", "r1"), c(10, "a", "r2")}, "r2"},
		{"same second and site: the lower request", []*porting.Claim{c(10, "a", "r9"), c(10, "a", "r2")}, "r2"},
		{"one claim", []*porting.Claim{c(10, "a", "r1")}, "r1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := porting.ClaimWinner(tc.claims)
			// The order claims arrive in never changes the winner.
			rev := make([]*porting.Claim, len(tc.claims))
			for i, x := range tc.claims {
				rev[len(rev)-1-i] = x
			}
			if got.RequestID != tc.want || porting.ClaimWinner(rev).RequestID != tc.want {
				t.Errorf("winner %s, want %s", got.RequestID, tc.want)
			}
		})
	}
	if porting.ClaimWinner(nil) != nil {
		t.Error("a winner out of no claims")
	}
}

// site is another site for a completion to ask: a store of its own, which
// may stop answering.
type site struct {
	*kazoo.Store
	name string
	mu   sync.Mutex
	down bool
}

func (s *site) Name() string { return s.name }

func (s *site) ClaimRevisions(ctx context.Context, numbers []string) (map[string][]*porting.Claim, error) {
	s.mu.Lock()
	down := s.down
	s.mu.Unlock()
	if down {
		return nil, errors.New("connection refused")
	}
	return s.Store.ClaimRevisions(ctx, numbers)
}

// A completion asks every other site first: it waits while one does not
// answer or does not hold the request's claim yet, is refused while one
// holds another request's claim or has the number in service, and goes
// through once every site confirms. Claims it took meanwhile stay.
func TestCompletionConfirmedByEverySite(t *testing.T) {
	ctx := context.Background()
	local := kazootest.Embedded(t)
	b := &site{Store: kazootest.Embedded(t), name: "site-b", down: true}
	c := &site{Store: kazootest.Embedded(t), name: "site-c"}
	peers := []porting.Peer{b, c}
	svc := porting.NewService(porting.Config{Store: local, Site: "site-a", Peers: func(context.Context) ([]porting.Peer, error) { return peers, nil }})
	master, _, err := svc.Bootstrap(ctx, "sites-master-key")
	if err != nil {
		t.Fatal(err)
	}
	const number = "+13125550190"
	r, err := svc.CreateRequest(ctx, master, master.ID, fields(t, `{"name":"confirmed","numbers":{"`+number+`":{}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []porting.State{porting.Submitted, porting.Pending} {
		if _, err := svc.Transition(ctx, master, master.ID, r.ID, to, porting.TransitionInput{AcceptCharges: true}); err != nil {
			t.Fatal(err)
		}
	}
	complete := func() error {
		_, err := svc.Transition(ctx, master, master.ID, r.ID, porting.Completed, porting.TransitionInput{})
		return err
	}
	mine, err := local.GetClaims(ctx, []string{number})
	if err != nil || mine[number] == nil || mine[number].Site != "site-a" {
		t.Fatalf("the claim %+v (%v), want one made at site-a", mine[number], err)
	}
	claimAt := func(s *site, req string) {
		t.Helper()
		cl := *mine[number]
		cl.RequestID, cl.Rev = req, ""
		if taken, err := s.CreateClaims(ctx, []*porting.Claim{&cl}); err != nil || len(taken) > 0 {
			t.Fatalf("claim at %s: %v %v", s.name, taken, err)
		}
	}
	expect := func(step string, kind porting.Kind, text string) {
		t.Helper()
		err := complete()
		if !porting.IsKind(err, kind) || !strings.Contains(err.Error()+" "+dataOf(err), text) {
			t.Fatalf("%s: %v (%s), want kind %d with %q", step, err, dataOf(err), kind, text)
		}
		got, err := local.GetRequest(ctx, r.ID)
		if err != nil || got.State != porting.Pending {
			t.Fatalf("%s: the request is %s (%v), want pending still", step, got.State, err)
		}
		if cl, _ := local.GetClaims(ctx, []string{number}); cl[number] == nil || cl[number].RequestID != r.ID {
			t.Fatalf("%s: the claim is gone", step)
		}
	}
	expect("site B down", porting.KindUnavailable, "site site-b did not answer")
	b.mu.Lock()
	b.down = false
	b.mu.Unlock()
	expect("neither site holds the claim", porting.KindUnavailable, "site-b "+number)
	claimAt(c, "another-request")
	claimAt(b, r.ID)
	expect("site C holds another request's claim", porting.KindInvalidRequest, "claimed at another site")

	// Site C's rival claim goes (its conflict resolved elsewhere), and C
	// has the number in service for another request.
	d := &site{Store: kazootest.Embedded(t), name: "site-d"}
	claimAt(d, r.ID)
	if err := d.CreateNumber(ctx, &porting.PhoneNumber{Number: number, State: porting.NumberInService, AssignedTo: "someone", PortID: "another-request", Other: porting.Fields{}}); err != nil {
		t.Fatal(err)
	}
	peers = []porting.Peer{b, d}
	expect("site D has the number in service", porting.KindInvalidRequest, "exists on the system")

	peers = []porting.Peer{b}
	if err := complete(); err != nil {
		t.Fatalf("every site confirms: %v", err)
	}
}

// dataOf is the structured data of a domain error, as JSON.
func dataOf(err error) string {
	var e *porting.Error
	if !errors.As(err, &e) || e.Data == nil {
		return ""
	}
	b, _ := json.Marshal(e.Data)
	return string(b)
}
