package accountcache

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/portreqd/portreqd/pkg/porting"
)

// TestAccountLoadShared checks that concurrent misses on one account make
// one store read, that every caller gets its own copy, and that a write
// while the read is in flight wins over the read's older answer.
func TestAccountLoadShared(t *testing.T) { synctest.Test(t, testAccountLoadShared) }

func testAccountLoadShared(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	c := New(2*time.Second, func() time.Time { return now })
	release := make(chan struct{})
	var reads atomic.Int32
	read := func(ctx context.Context, id string) (*porting.Account, error) {
		reads.Add(1)
		<-release
		return &porting.Account{ID: id, Name: "old"}, nil
	}
	const callers = 8
	var wg sync.WaitGroup
	got := make([]*porting.Account, callers)
	for i := range callers {
		wg.Go(func() {
			a, err := c.Account(context.Background(), "a1", read)
			if err != nil {
				t.Error(err)
			}
			got[i] = a
		})
	}
	synctest.Wait() // every caller waits: one on the read, the others on it
	c.Written(&porting.Account{ID: "a1", Name: "new"})
	close(release)
	wg.Wait()
	if n := reads.Load(); n != 1 {
		t.Errorf("%d store reads for %d concurrent misses, want 1", n, callers)
	}
	for i, a := range got {
		if a == nil || a.Name != "old" {
			t.Fatalf("caller %d got %+v", i, a)
		}
		if i > 0 && a == got[0] {
			t.Fatalf("callers share one *Account")
		}
	}
	if a, ok := c.get("a1"); !ok || a.Name != "new" {
		t.Errorf("cached %+v, %v; want the written account", a, ok)
	}
}

// TestAccountLoadErrors checks that a store error reaches every waiter and
// is not cached, and that a waiter whose own request is alive reads again
// when the reader's request was canceled.
func TestAccountLoadErrors(t *testing.T) { synctest.Test(t, testAccountLoadErrors) }

func testAccountLoadErrors(t *testing.T) {
	c := New(time.Second, time.Now)
	boom := errors.New("store down")
	if _, err := c.Account(context.Background(), "a1", func(context.Context, string) (*porting.Account, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("err %v, want %v", err, boom)
	}
	if _, ok := c.get("a1"); ok {
		t.Fatal("an error was cached")
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	go func() {
		_, _ = c.Account(ctx, "a2", func(ctx context.Context, _ string) (*porting.Account, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		})
	}()
	<-started
	done := make(chan *porting.Account)
	go func() {
		a, err := c.Account(context.Background(), "a2", func(_ context.Context, id string) (*porting.Account, error) {
			return &porting.Account{ID: id, Name: "mine"}, nil
		})
		if err != nil {
			t.Error(err)
		}
		done <- a
	}()
	synctest.Wait() // the second caller waits on the first one's read
	cancel()
	if a := <-done; a == nil || a.Name != "mine" {
		t.Fatalf("waiter got %+v after the reader's cancel", a)
	}
}

// TestAccountExpiry checks that an account and a _read_only block are
// served while fresh and read again once their TTL has passed, and that a
// write drops every block.
func TestAccountExpiry(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	c := New(2*time.Second, func() time.Time { return now })
	reads := 0
	read := func(_ context.Context, id string) (*porting.Account, error) {
		reads++
		return &porting.Account{ID: id}, nil
	}
	ro := json.RawMessage(`{"account_id":"a1"}`)
	for _, step := range []struct {
		advance   time.Duration
		write     bool
		wantReads int
		wantRO    bool
	}{
		{0, false, 1, true},
		{time.Second, false, 1, true},
		{1500 * time.Millisecond, false, 2, false}, // both older than the TTL
		{0, true, 2, false},                        // a write drops the block, keeps the account
	} {
		now = now.Add(step.advance)
		if step.write {
			c.PutReadOnly("a1", ro, now)
			c.Written(&porting.Account{ID: "a1"})
		}
		if _, err := c.Account(context.Background(), "a1", read); err != nil {
			t.Fatal(err)
		}
		if step.advance == 0 && !step.write {
			c.PutReadOnly("a1", ro, now)
		}
		if reads != step.wantReads {
			t.Errorf("after %v: %d reads, want %d", step.advance, reads, step.wantReads)
		}
		if _, ok := c.ReadOnly("a1"); ok != step.wantRO {
			t.Errorf("after %v: _read_only kept %v, want %v", step.advance, ok, step.wantRO)
		}
	}
}

// TestChangedAndFlush checks that an account reported changed (or a flush)
// is read again at once, with its _read_only blocks gone, however long its
// TTL.
func TestChangedAndFlush(t *testing.T) {
	c := New(time.Hour, nil)
	name := "old"
	reads := 0
	read := func(_ context.Context, id string) (*porting.Account, error) {
		reads++
		return &porting.Account{ID: id, Name: name}, nil
	}
	get := func(id string) string {
		t.Helper()
		a, err := c.Account(context.Background(), id, read)
		if err != nil {
			t.Fatal(err)
		}
		return a.Name
	}
	get("a1")
	get("a2")
	c.PutReadOnly("a2", json.RawMessage(`{"account_name":"old"}`), time.Now())
	name = "new"
	if got := get("a1"); got != "old" || reads != 2 {
		t.Fatalf("within the TTL: %q after %d reads", got, reads)
	}
	c.Changed("a1")
	if got := get("a1"); got != "new" || reads != 3 {
		t.Errorf("after Changed: %q after %d reads, want new after 3", got, reads)
	}
	if _, ok := c.ReadOnly("a2"); ok {
		t.Error("a _read_only block survived Changed")
	}
	if got := get("a2"); got != "old" {
		t.Errorf("Changed(a1) dropped a2: %q", got)
	}
	c.Flush()
	if got := get("a2"); got != "new" || reads != 4 {
		t.Errorf("after Flush: %q after %d reads, want new after 4", got, reads)
	}
}
