package api

import (
	"context"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/porting"
)

// At most n run at once; one whose client leaves while waiting is dropped
// (four parallel letters took both CPUs for minutes before, and rendering
// went on after the clients left).
func TestSlots(t *testing.T) {
	s := newSlots(2)
	r1, err := s.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.acquire(ctx); porting.KindOf(err) != porting.KindUnavailable {
		t.Fatalf("third while two run: %v, want unavailable once the client left", err)
	}
	r1()
	r3, err := s.acquire(context.Background())
	if err != nil {
		t.Fatalf("after a release: %v", err)
	}
	r2()
	r3()
}
