package porting

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestAccountLoadShared checks that concurrent misses on one account make
// one store read, that every caller gets its own copy, and that a write
// while the read is in flight wins over the read's older answer.
func TestAccountLoadShared(t *testing.T) { synctest.Test(t, testAccountLoadShared) }

func testAccountLoadShared(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	c := newAccountCache(2*time.Second, func() time.Time { return now })
	release := make(chan struct{})
	var reads atomic.Int32
	fetch := func(ctx context.Context, id string) (*Account, error) {
		reads.Add(1)
		<-release
		return &Account{ID: id, Name: "old"}, nil
	}
	const callers = 8
	var wg sync.WaitGroup
	got := make([]*Account, callers)
	for i := range callers {
		wg.Go(func() {
			a, err := c.load(context.Background(), "a1", fetch)
			if err != nil {
				t.Error(err)
			}
			got[i] = a
		})
	}
	synctest.Wait() // every caller waits: one on the read, the others on it
	c.changed(&Account{ID: "a1", Name: "new"})
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
	c := newAccountCache(time.Second, time.Now)
	boom := errors.New("store down")
	if _, err := c.load(context.Background(), "a1", func(context.Context, string) (*Account, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("err %v, want %v", err, boom)
	}
	if _, ok := c.get("a1"); ok {
		t.Fatal("an error was cached")
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	go func() {
		_, _ = c.load(ctx, "a2", func(ctx context.Context, _ string) (*Account, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		})
	}()
	<-started
	done := make(chan *Account)
	go func() {
		a, err := c.load(context.Background(), "a2", func(_ context.Context, id string) (*Account, error) {
			return &Account{ID: id, Name: "mine"}, nil
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

// TestWholeListingSlots checks that unpaginated listings beyond the slot
// count wait, and give up with their caller's context.
func TestWholeListingSlots(t *testing.T) { synctest.Test(t, testWholeListingSlots) }

func testWholeListingSlots(t *testing.T) {
	s := NewService(Config{})
	var releases []func()
	for range cap(s.wholeListings) {
		release, err := s.wholeListing(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, release)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.wholeListing(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("listing beyond the slots: %v, want to wait until the deadline", err)
	}
	releases[0]()
	release, err := s.wholeListing(context.Background())
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	release()
	for _, r := range releases[1:] {
		r()
	}
}
