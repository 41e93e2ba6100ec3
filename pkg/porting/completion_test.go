package porting_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

// cutOff is a store that goes away at the commit of a completion: the
// write that would make the request completed fails (as if the process
// died or the store stopped right there), and so does every cleanup
// after it until it is healed.
type cutOff struct {
	porting.Store
	down, cut atomic.Bool
}

func (c *cutOff) UpdateRequest(ctx context.Context, r *porting.Request) error {
	if r.State == porting.Completed && !c.cut.Swap(true) {
		c.down.Store(true) // once
	}
	if c.down.Load() {
		return porting.E(porting.KindUnavailable, "datastore unavailable")
	}
	return c.Store.UpdateRequest(ctx, r)
}

func (c *cutOff) DeleteNumber(ctx context.Context, n *porting.PhoneNumber) error {
	if c.down.Load() {
		return porting.E(porting.KindUnavailable, "datastore unavailable")
	}
	return c.Store.DeleteNumber(ctx, n)
}

// A completion cut off between putting numbers in service (and debiting)
// and its commit leaves an intent on the request; nothing else may change
// the request while it is fresh; once stale, the recovery pass takes the
// numbers out of service, deletes the debit and clears the intent, and the
// request completes whole afterwards. Invariant at every rest point: a
// number is in service iff its request completed; a debit exists iff its
// request completed. (Before, the numbers stayed in service and the debit
// stayed on a pending request for good.)
func TestCompletionCutOffIsRolledBack(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { testCompletionCutOff(t, kazootest.Embedded(t)) })
	t.Run("couchdb", func(t *testing.T) {
		testCompletionCutOff(t, kazootest.Couch(t, couchdbtest.URL(t), couchdbtest.Prefix()))
	})
}

func testCompletionCutOff(t *testing.T, st porting.Store) {
	ctx := context.Background()
	cut := &cutOff{Store: st}
	w := newWorldOn(t, cut, porting.Rules{ActivationCharge: 2.5})
	const number = "+12025550371"
	r, err := w.svc.CreateRequest(ctx, w.customer, w.customer.ID, fields(t, `{"name":"cut off","numbers":{"`+number+`":{}}}`))
	if err != nil {
		t.Fatal(err)
	}
	move := func(actor *porting.Account, to porting.State, in porting.TransitionInput) error {
		_, err := w.svc.Transition(ctx, actor, w.customer.ID, r.ID, to, in)
		return err
	}
	if err := move(w.customer, porting.Submitted, porting.TransitionInput{Data: porting.Fields{}, AcceptCharges: true}); err != nil {
		t.Fatal(err)
	}
	if err := move(w.reseller, porting.Pending, porting.TransitionInput{Data: porting.Fields{}}); err != nil {
		t.Fatal(err)
	}
	if err := move(w.reseller, porting.Completed, porting.TransitionInput{Data: porting.Fields{}}); !porting.IsKind(err, porting.KindUnavailable) {
		t.Fatalf("completion cut off at its commit: %v, want unavailable", err)
	}
	cut.down.Store(false) // the store is back; the completer is gone

	inService := func() bool {
		t.Helper()
		docs, err := st.GetNumbers(ctx, []string{number})
		if err != nil {
			t.Fatal(err)
		}
		d, ok := docs[number]
		return ok && d.PortID == r.ID
	}
	debited := func() bool {
		t.Helper()
		for _, db := range ledgerDBs(w, r.AccountID) {
			if _, err := st.GetTransaction(ctx, db, "port_request-"+r.ID); err == nil {
				return true
			}
		}
		return false
	}
	state := func() porting.State {
		t.Helper()
		got, err := st.GetRequest(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.State
	}
	if !inService() || !debited() || state() != porting.Pending {
		t.Fatalf("after the cut: in service %v, debited %v, state %s; want the half-done completion the saga must undo", inService(), debited(), state())
	}
	if ids, err := st.CompletionIntents(ctx); err != nil || len(ids) != 1 || ids[0] != r.ID {
		t.Fatalf("CompletionIntents = %v, %v; want [%s]", ids, err, r.ID)
	}

	// While the intent is fresh nobody else changes the request, and
	// recovery leaves it alone.
	if err := move(w.reseller, porting.Canceled, porting.TransitionInput{Data: porting.Fields{}}); !porting.IsKind(err, porting.KindConflict) {
		t.Errorf("cancel during a fresh completion: %v, want conflict", err)
	}
	if n, err := w.svc.RecoverCompletions(ctx); err != nil || n != 0 {
		t.Errorf("recovery of a fresh intent: %d, %v; want 0", n, err)
	}

	// Stale: recovery rolls it back, once (a second pass, as another
	// replica's, finds nothing).
	w.clock.Add(600)
	if n, err := w.svc.RecoverCompletions(ctx); err != nil || n != 1 {
		t.Fatalf("recovery: %d, %v; want 1", n, err)
	}
	if n, err := w.svc.RecoverCompletions(ctx); err != nil || n != 0 {
		t.Errorf("second recovery: %d, %v; want 0", n, err)
	}
	if inService() || debited() || state() != porting.Pending {
		t.Errorf("after recovery: in service %v, debited %v, state %s; want none, none, pending", inService(), debited(), state())
	}
	if ids, _ := st.CompletionIntents(ctx); len(ids) != 0 {
		t.Errorf("intents after recovery: %v", ids)
	}

	// Completing now works, whole.
	if err := move(w.reseller, porting.Completed, porting.TransitionInput{Data: porting.Fields{}}); err != nil {
		t.Fatalf("completion after recovery: %v", err)
	}
	if !inService() || !debited() || state() != porting.Completed {
		t.Errorf("after completion: in service %v, debited %v, state %s", inService(), debited(), state())
	}
	got, _ := st.GetRequest(ctx, r.ID)
	if _, ok := got.Private["pvt_completion"]; ok {
		t.Errorf("completed request keeps its intent: %s", got.Private["pvt_completion"])
	}
}

// ledgerDBs are the monthly ledgers the world's clock has passed through.
func ledgerDBs(w *world, account string) []string {
	now := porting.Gregorian(time.Unix(w.clock.Load(), 0))
	return []string{porting.LedgerDB(account, now), porting.LedgerDB(account, now-40*86400)}
}

// Processes starting together on an empty store make one master between
// them (each made its own before): one reports it created it, all name it.
func TestOneMasterWhenStartingTogether(t *testing.T) {
	for name, st := range map[string]func(t *testing.T) porting.Store{
		"embedded": func(t *testing.T) porting.Store { return kazootest.Embedded(t) },
		"couchdb":  func(t *testing.T) porting.Store { return kazootest.Couch(t, couchdbtest.URL(t), couchdbtest.Prefix()) },
	} {
		t.Run(name, func(t *testing.T) {
			store := st(t)
			const n = 6
			ids := make([]string, n)
			created := make([]bool, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					svc := porting.NewService(porting.Config{Store: store})
					m, c, err := svc.Bootstrap(context.Background(), fmt.Sprintf("master-key-%02d-0123456789", i))
					if err == nil {
						ids[i], created[i] = m.ID, c
					}
					errs[i] = err
				}()
			}
			wg.Wait()
			makers := 0
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("Bootstrap %d: %v", i, errs[i])
				}
				if ids[i] != ids[0] {
					t.Errorf("Bootstrap %d names master %s, 0 names %s", i, ids[i], ids[0])
				}
				if created[i] {
					makers++
				}
			}
			if makers != 1 {
				t.Errorf("%d processes report creating the master, want 1", makers)
			}
			// One master document: exactly one of the keys logs in.
			logins := 0
			for i := range n {
				if _, err := store.AccountByAPIKey(context.Background(), fmt.Sprintf("master-key-%02d-0123456789", i)); err == nil {
					logins++
				}
			}
			if logins != 1 {
				t.Errorf("%d of the processes' keys log in as the master, want 1 (one master document)", logins)
			}
		})
	}
}
