package metrics_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/metrics"
	"github.com/portreqd/portreqd/pkg/porting"
)

// countingOutbox answers DeliveryStatus with pending deliveries, one more
// per read, or fails while failing is set; it counts the reads.
type countingOutbox struct {
	reads   int
	failing bool
}

func (c *countingOutbox) DeliveryStatus(ctx context.Context, now int64, recent int) (*porting.DeliveryStatus, error) {
	c.reads++
	if _, ok := ctx.Deadline(); !ok {
		return nil, errors.New("no deadline: a scrape could wait forever")
	}
	if c.failing {
		return nil, errors.New("store down")
	}
	return &porting.DeliveryStatus{Pending: c.reads, OldestPendingS: 42, Failed: 3}, nil
}

// TestOutboxCached checks that scrapes within CacheFor share one read of
// the store, that a read happens again after it, and that a failed read
// says so (portreqd_outbox_up 0, no counts) instead of showing stale ones.
func TestOutboxCached(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	st := &countingOutbox{}
	m := metrics.New()
	if err := m.Outbox(st, metrics.OutboxOptions{CacheFor: 5 * time.Second, Now: func() time.Time { return now }}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	for _, step := range []struct {
		name        string
		advance     time.Duration
		failing     bool
		wantReads   int
		wantUp      float64
		wantPending float64 // -1: absent
	}{
		{"first scrape", 0, false, 1, 1, 1},
		{"within CacheFor", 4 * time.Second, false, 1, 1, 1},
		{"after CacheFor", 2 * time.Second, false, 2, 1, 2},
		{"store down, cached", time.Second, true, 2, 1, 2},
		{"store down", 5 * time.Second, true, 3, 0, -1},
		{"store back", 5 * time.Second, false, 4, 1, 4},
	} {
		now = now.Add(step.advance)
		st.failing = step.failing
		sc := scrape(t, srv.URL)
		if st.reads != step.wantReads {
			t.Errorf("%s: %d reads of the store, want %d", step.name, st.reads, step.wantReads)
		}
		if up, _ := sc.value("portreqd_outbox_up", nil); up != step.wantUp {
			t.Errorf("%s: portreqd_outbox_up = %v, want %v", step.name, up, step.wantUp)
		}
		pending, ok := sc.value("portreqd_outbox_pending", nil)
		if !ok {
			pending = -1
		}
		if pending != step.wantPending {
			t.Errorf("%s: portreqd_outbox_pending = %v, want %v", step.name, pending, step.wantPending)
		}
		if _, ok := sc.value("portreqd_outbox_oldest_pending_seconds", nil); ok != (step.wantPending >= 0) {
			t.Errorf("%s: oldest_pending_seconds shown %v", step.name, ok)
		}
	}
}
