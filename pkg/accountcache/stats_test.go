package accountcache

import (
	"context"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/porting"
)

// TestStats checks that each Account answer counts once: a hit from a
// fresh entry, a miss for a first read, after expiry and after a change.
func TestStats(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	c := New(2*time.Second, func() time.Time { return now })
	read := func(_ context.Context, id string) (*porting.Account, error) {
		return &porting.Account{ID: id}, nil
	}
	for _, step := range []struct {
		name    string
		advance time.Duration
		changed bool
		want    Stats
	}{
		{"first read", 0, false, Stats{Misses: 1}},
		{"fresh", time.Second, false, Stats{Hits: 1, Misses: 1}},
		{"fresh again", 0, false, Stats{Hits: 2, Misses: 1}},
		{"expired", 1500 * time.Millisecond, false, Stats{Hits: 2, Misses: 2}},
		{"changed", 0, true, Stats{Hits: 2, Misses: 3}},
	} {
		now = now.Add(step.advance)
		if step.changed {
			c.Changed("a1")
		}
		if _, err := c.Account(context.Background(), "a1", read); err != nil {
			t.Fatal(err)
		}
		if got := c.Stats(); got != step.want {
			t.Errorf("%s: Stats() = %+v, want %+v", step.name, got, step.want)
		}
	}
}
