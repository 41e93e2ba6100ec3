package kazoo_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/kazoo"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

// TestIdempotentCreateAtTwoSites sends one creation, under one
// Idempotency-Key, to two sites that do not replicate: each answers the
// same request id, and once they replicate and the conflict watchers run,
// both hold one document with one created event (one id, so receivers see
// one webhook-id), and a third copy of the creation is a replay.
func TestIdempotentCreateAtTwoSites(t *testing.T) {
	prefix := couchdbtest.Prefix() + "idemsites_"
	ss, keeper := twoSites(t, prefix)
	a, b := ss[0], ss[1]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	requests := prefix + "port_requests"

	master, _, err := a.svc.Bootstrap(ctx, "idempotent-sites-master-key")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keeper.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the master replicated to B", func() bool {
		_, err := b.store.GetAccount(ctx, master.ID)
		return err == nil
	})
	stopReplication(ctx, t, keeper, prefix, ss[:]...)

	data := porting.Fields{}
	data.Set("name", "sent to two sites")
	data.Set("numbers", map[string]any{"+13125550181": map[string]any{}})
	var ids [2]string
	for i, s := range ss {
		r, replayed, err := s.svc.CreateRequestOnce(ctx, master, master.ID, "order-77", data)
		if err != nil || replayed {
			t.Fatalf("site %d: %v, replayed %v", i, err, replayed)
		}
		ids[i] = r.ID
		time.Sleep(1100 * time.Millisecond) // two creation times
	}
	if ids[0] != ids[1] {
		t.Fatalf("the sites made two requests of one creation: %s and %s", ids[0], ids[1])
	}

	if _, err := keeper.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, s := range ss {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.store.WatchConflicts(ctx, kazoo.ConflictWatch{Settle: 100 * time.Millisecond, Report: func(r kazoo.ConflictReport) {
				if r.Err != nil {
					t.Errorf("resolving %s: %v", r.ID, r.Err)
				}
			}})
			if err != nil && ctx.Err() == nil {
				t.Errorf("watcher: %v", err)
			}
		}()
	}
	waitFor(t, "one revision, the same, on both sites", func() bool {
		l0, l1 := liveLeaves(t, a, requests, ids[0]), liveLeaves(t, b, requests, ids[0])
		return len(l0) == 1 && len(l1) == 1 && l0[0].Rev == l1[0].Rev
	})
	time.Sleep(time.Second)
	cancel()
	wg.Wait()

	for _, s := range ss {
		got, err := s.store.GetRequest(context.Background(), ids[0])
		if err != nil {
			t.Fatal(err)
		}
		created := 0
		for _, e := range got.Outbox() {
			if e.Type == porting.EventCreated {
				created++
			}
		}
		if created != 1 {
			t.Errorf("%s: %d created events, want 1: %+v", s.url, created, got.Outbox())
		}
		again, replayed, err := s.svc.CreateRequestOnce(context.Background(), master, master.ID, "order-77", data)
		if err != nil || !replayed || again.ID != ids[0] {
			t.Errorf("%s: the creation a third time: %v, replayed %v; want a replay of %s", s.url, err, replayed, ids[0])
		}
	}
}
