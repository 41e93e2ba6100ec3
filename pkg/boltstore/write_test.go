package boltstore_test

import (
	"sync"
	"testing"

	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/porting/storetest"
)

// Concurrent writers share commits; a conflict of one of them must neither
// fail nor undo the others.
func TestGroupCommit(t *testing.T) {
	s := open(t, t.TempDir())
	acct := newID(t)
	target := request(t, acct, nil, 1000)
	if err := s.CreateRequest(ctx(t), target); err != nil {
		t.Fatal(err)
	}
	const writers = 64
	var wg sync.WaitGroup
	updErrs := make([]error, writers)
	createErrs := make([]error, writers)
	for i := range writers {
		wg.Add(2)
		go func() { // all race to update target at the same revision
			defer wg.Done()
			r := *target
			r.Modified = int64(2000 + i)
			updErrs[i] = s.UpdateRequest(ctx(t), &r)
		}()
		go func() { // never conflict
			defer wg.Done()
			createErrs[i] = s.CreateRequest(ctx(t), request(t, acct, nil, 3000))
		}()
	}
	wg.Wait()
	won := 0
	for i := range writers {
		switch err := updErrs[i]; {
		case err == nil:
			won++
		case !porting.IsKind(err, porting.KindConflict):
			t.Errorf("update: %v", err)
		}
		if createErrs[i] != nil {
			t.Errorf("create: %v", createErrs[i])
		}
	}
	if won != 1 {
		t.Errorf("%d updates at one revision succeeded, want 1", won)
	}
	p, err := storetest.ListRequests(ctx(t), s, porting.ListQuery{Account: acct, State: porting.Submitted})
	if err != nil || len(p.Requests()) != writers+1 {
		t.Errorf("listing: %d rows, %v; want %d", len(p.Requests()), err, writers+1)
	}
}
