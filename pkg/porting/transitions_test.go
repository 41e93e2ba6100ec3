package porting_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
	"github.com/portreqd/portreqd/pkg/porting"
)

// world is a Service on a fresh embedded store with Kazoo's usual tree:
// master → reseller (the port authority) → customer, and a stranger
// elsewhere under master.
type world struct {
	svc                                  *porting.Service
	store                                porting.Store
	master, reseller, customer, stranger *porting.Account
	clock                                atomic.Int64 // Unix seconds
	seq                                  atomic.Int64
}

func newWorld(t *testing.T, rules porting.Rules) *world {
	t.Helper()
	return newWorldOn(t, kazootest.Embedded(t), rules)
}

// newWorldOn is newWorld on store st.
func newWorldOn(t *testing.T, st porting.Store, rules porting.Rules) *world {
	t.Helper()
	w := &world{store: st}
	w.clock.Store(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).Unix())
	w.svc = porting.NewService(porting.Config{
		Store: st,
		Clock: func() time.Time { return time.Unix(w.clock.Add(1), 0) },
		IDs:   func() string { return fmt.Sprintf("%032x", w.seq.Add(1)) },
		Rules: rules,
	})
	ctx := context.Background()
	var err error
	if w.master, _, err = w.svc.Bootstrap(ctx, "master-key"); err != nil {
		t.Fatal(err)
	}
	w.reseller = w.account(t, w.master, w.master.ID, `{"name":"Reseller","port_authority":true}`)
	w.customer = w.account(t, w.master, w.reseller.ID, `{"name":"Customer"}`)
	w.stranger = w.account(t, w.master, w.master.ID, `{"name":"Stranger"}`)
	return w
}

func fields(t *testing.T, js string) porting.Fields {
	t.Helper()
	var f porting.Fields
	if err := json.Unmarshal([]byte(js), &f); err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return f
}

func (w *world) account(t *testing.T, actor *porting.Account, parent, js string) *porting.Account {
	t.Helper()
	a, err := w.svc.CreateAccount(context.Background(), actor, parent, fields(t, js))
	if err != nil {
		t.Fatalf("CreateAccount %s: %v", js, err)
	}
	return a
}

// request creates a request of the customer for number and moves it
// along path, each step made by the port authority (the customer for
// submitted).
func (w *world) request(t *testing.T, number string, path ...porting.State) *porting.Request {
	t.Helper()
	ctx := context.Background()
	r, err := w.svc.CreateRequest(ctx, w.customer, w.customer.ID, fields(t, `{"name":"Port `+number+`","numbers":{"`+number+`":{}}}`))
	if err != nil {
		t.Fatalf("CreateRequest: %v", err)
	}
	for _, to := range path {
		actor := w.reseller
		if to == porting.Submitted {
			actor = w.customer
		}
		if r, err = w.svc.Transition(ctx, actor, w.customer.ID, r.ID, to, porting.TransitionInput{Data: porting.Fields{}}); err != nil {
			t.Fatalf("moving to %s along %v: %v", to, path, err)
		}
	}
	return r
}

// pathTo reaches each state from a new request.
var pathTo = map[porting.State][]porting.State{
	porting.Unconfirmed: nil,
	porting.Submitted:   {porting.Submitted},
	porting.Pending:     {porting.Submitted, porting.Pending},
	porting.Scheduled:   {porting.Submitted, porting.Pending, porting.Scheduled},
	porting.Completed:   {porting.Submitted, porting.Pending, porting.Completed},
	porting.Rejected:    {porting.Submitted, porting.Rejected},
	porting.Canceled:    {porting.Canceled},
}

// TestTransitionTable tries every move from every state by the customer,
// the port authority and an account outside the tree, and checks the
// answer and what it leaves behind: the state, the history entry, the
// claims on the number and the numbers in service.
func TestTransitionTable(t *testing.T) {
	w := newWorld(t, porting.Rules{})
	ctx := context.Background()
	// legal[from] lists the targets the table allows; authority says which
	// moves only the authority may make.
	legal := map[porting.State][]porting.State{
		porting.Unconfirmed: {porting.Submitted, porting.Canceled},
		porting.Submitted:   {porting.Pending, porting.Rejected, porting.Canceled},
		porting.Pending:     {porting.Scheduled, porting.Completed, porting.Rejected, porting.Canceled},
		porting.Scheduled:   {porting.Completed, porting.Rejected, porting.Canceled},
		porting.Rejected:    {porting.Submitted, porting.Completed, porting.Canceled},
	}
	customerMay := func(from, to porting.State) bool {
		return to == porting.Submitted || (to == porting.Canceled && from == porting.Unconfirmed)
	}
	n := 0
	for _, from := range porting.States {
		for _, to := range porting.Targets() {
			for _, who := range []string{"customer", "authority", "stranger"} {
				n++
				name := fmt.Sprintf("%s→%s by %s", from, to, who)
				t.Run(name, func(t *testing.T) {
					number := fmt.Sprintf("+1202555%04d", n)
					r := w.request(t, number, pathTo[from]...)
					actor := map[string]*porting.Account{"customer": w.customer, "authority": w.reseller, "stranger": w.stranger}[who]
					got, err := w.svc.Transition(ctx, actor, w.customer.ID, r.ID, to, porting.TransitionInput{Data: porting.Fields{}})
					allowed := slices.Contains(legal[from], to)
					var wantKind porting.Kind
					switch {
					case who == "stranger":
						wantKind = porting.KindForbidden
					case !allowed:
						wantKind = porting.KindInvalidRequest
					case who == "customer" && !customerMay(from, to):
						wantKind = porting.KindForbidden
					}
					after, gerr := w.svc.GetRequest(ctx, w.master, w.customer.ID, r.ID)
					if gerr != nil {
						t.Fatal(gerr)
					}
					if wantKind != 0 {
						if !porting.IsKind(err, wantKind) {
							t.Fatalf("error %v, want kind %v", err, wantKind)
						}
						if after.State != from || len(after.Transitions) != len(r.Transitions) {
							t.Errorf("a refused move changed the request: state %s, %d transitions (was %s, %d)", after.State, len(after.Transitions), from, len(r.Transitions))
						}
						return
					}
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					if got.State != to || after.State != to {
						t.Errorf("state %s (stored %s), want %s", got.State, after.State, to)
					}
					// Newest first, as Kazoo 4.3 keeps them; the creation
					// entry (no previous state) last.
					newest := after.Transitions[0]
					if newest.Transition.New != to || newest.Transition.Previous != from || newest.Authorization.Account.ID != actor.ID {
						t.Errorf("newest history entry %+v, want %s→%s by %s", newest, from, to, actor.ID)
					}
					if len(after.Transitions) != len(r.Transitions)+1 {
						t.Errorf("%d history entries, want %d", len(after.Transitions), len(r.Transitions)+1)
					}
					first := after.Transitions[len(after.Transitions)-1]
					if first.Transition.New != porting.Unconfirmed || first.Transition.Previous != "" {
						t.Errorf("oldest history entry %+v, want the creation entry", first)
					}
					for i := 1; i < len(after.Transitions); i++ {
						if after.Transitions[i].Timestamp > after.Transitions[i-1].Timestamp {
							t.Errorf("history not newest first: %d before %d", after.Transitions[i-1].Timestamp, after.Transitions[i].Timestamp)
						}
					}
					claims, err := w.store.GetClaims(ctx, []string{number})
					if err != nil {
						t.Fatal(err)
					}
					if held := claims[number] != nil; held != to.Active() {
						t.Errorf("claim on %s held = %v after moving to %s", number, held, to)
					}
					numbers, err := w.store.GetNumbers(ctx, []string{number})
					if err != nil {
						t.Fatal(err)
					}
					if inService := numbers[number] != nil; inService != (to == porting.Completed) {
						t.Errorf("%s in service = %v after moving to %s", number, inService, to)
					}
				})
			}
		}
	}
}

// TestSubmitChargesAndClaims: with an activation charge a submission asks
// for acceptance (402, nothing changed), and with it goes through; a
// second request for a number held by an active one is refused until the
// first is canceled.
func TestSubmitChargesAndClaims(t *testing.T) {
	w := newWorld(t, porting.Rules{ActivationCharge: 1.5})
	ctx := context.Background()
	r, err := w.svc.CreateRequest(ctx, w.customer, w.customer.ID, fields(t, `{"name":"Two","numbers":{"+12025550001":{},"+12025550002":{}}}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.svc.Transition(ctx, w.customer, w.customer.ID, r.ID, porting.Submitted, porting.TransitionInput{Data: porting.Fields{}})
	var pe *porting.Error
	if !porting.IsKind(err, porting.KindPaymentRequired) || !errors.As(err, &pe) {
		t.Fatalf("submit without accepting charges: %v, want 402", err)
	}
	if data, _ := pe.Data.(map[string]any); fmt.Sprint(data["activation_charges"]) != "3" {
		t.Errorf("402 data %v, want activation_charges 3 (2 numbers × 1.5)", pe.Data)
	}
	if claims, _ := w.store.GetClaims(ctx, []string{"+12025550001"}); len(claims) != 0 {
		t.Errorf("a refused submission claimed numbers: %v", claims)
	}
	if _, err := w.svc.Transition(ctx, w.customer, w.customer.ID, r.ID, porting.Submitted, porting.TransitionInput{Data: porting.Fields{}, AcceptCharges: true}); err != nil {
		t.Fatalf("submit accepting charges: %v", err)
	}
	// Another account wants +12025550002 while the customer's request
	// holds it: refused (at creation or submission), changing nothing.
	grab := func() error {
		other, err := w.svc.CreateRequest(ctx, w.stranger, w.stranger.ID, fields(t, `{"name":"Again","numbers":{"+12025550002":{}}}`))
		if err != nil {
			return err
		}
		_, err = w.svc.Transition(ctx, w.stranger, w.stranger.ID, other.ID, porting.Submitted, porting.TransitionInput{Data: porting.Fields{}, AcceptCharges: true})
		return err
	}
	if err := grab(); !porting.IsKind(err, porting.KindInvalidRequest) {
		t.Fatalf("another account porting a held number: %v, want the number error", err)
	}
	if _, err := w.svc.Transition(ctx, w.customer, w.customer.ID, r.ID, porting.Canceled, porting.TransitionInput{Data: porting.Fields{}}); !porting.IsKind(err, porting.KindForbidden) {
		t.Fatalf("customer canceling a submitted request: %v, want forbidden (the authority's move)", err)
	}
	if _, err := w.svc.Transition(ctx, w.reseller, w.customer.ID, r.ID, porting.Canceled, porting.TransitionInput{Data: porting.Fields{}}); err != nil {
		t.Fatal(err)
	}
	if err := grab(); err != nil {
		t.Errorf("another account porting the number after the holder was canceled: %v", err)
	}
}
