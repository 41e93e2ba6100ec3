package rows

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// TestWholeListingSlots checks that unpaginated listings beyond the slot
// count wait, and give up with their caller's context.
func TestWholeListingSlots(t *testing.T) { synctest.Test(t, testWholeListingSlots) }

func testWholeListingSlots(t *testing.T) {
	s := New(Config{})
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
