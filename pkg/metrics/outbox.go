package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portreqd/portreqd/pkg/porting"
)

// OutboxOptions bound what a scrape costs the store.
type OutboxOptions struct {
	// Timeout bounds the store's answer at a scrape (default 2 s); past
	// it the gauges are left out and portreqd_outbox_up is 0.
	Timeout time.Duration
	// CacheFor is how long an answer serves later scrapes (default 5 s),
	// so that scrapers, however many or frequent, cannot hammer the store.
	CacheFor time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Outbox exports the webhook delivery outbox of st, counted at scrape
// time: portreqd_outbox_pending, portreqd_outbox_oldest_pending_seconds,
// portreqd_outbox_failed, and portreqd_outbox_up (0 when the store did
// not answer in time).
func (m *Metrics) Outbox(st porting.DeliveryStatusStore, o OutboxOptions) error {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.CacheFor <= 0 {
		o.CacheFor = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "outbox", name), help, nil, nil)
	}
	return m.reg.Register(&outbox{
		st: st, o: o,
		pending: desc("pending", "Webhook deliveries waiting to be sent."),
		oldest:  desc("oldest_pending_seconds", "Age of the oldest delivery waiting to be sent (0: none waits)."),
		failed:  desc("failed", "Webhook deliveries that failed for good (replayable)."),
		up:      desc("up", "1 when the store answered the outbox counts at the last read, else 0."),
	})
}

// outbox is a collector that reads the store at most once per CacheFor.
type outbox struct {
	st                          porting.DeliveryStatusStore
	o                           OutboxOptions
	pending, oldest, failed, up *prometheus.Desc

	// mu is held during a read, so that concurrent scrapes share it.
	mu   sync.Mutex
	at   time.Time               // of the last read; zero: none yet
	last *porting.DeliveryStatus // nil: the last read failed
}

func (b *outbox) Describe(ch chan<- *prometheus.Desc) {
	ch <- b.pending
	ch <- b.oldest
	ch <- b.failed
	ch <- b.up
}

func (b *outbox) Collect(ch chan<- prometheus.Metric) {
	st := b.status()
	if st == nil {
		ch <- prometheus.MustNewConstMetric(b.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(b.up, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(b.pending, prometheus.GaugeValue, float64(st.Pending))
	ch <- prometheus.MustNewConstMetric(b.oldest, prometheus.GaugeValue, float64(st.OldestPendingS))
	ch <- prometheus.MustNewConstMetric(b.failed, prometheus.GaugeValue, float64(st.Failed))
}

// status is the store's count, read again once the last is CacheFor old.
func (b *outbox) status() *porting.DeliveryStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.o.Now()
	if !b.at.IsZero() && now.Sub(b.at) < b.o.CacheFor {
		return b.last
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.o.Timeout)
	defer cancel()
	// One recent failure: the counts are what is exported, not the list.
	st, err := b.st.DeliveryStatus(ctx, now.UnixMilli(), 1)
	if err != nil {
		st = nil
	}
	b.at, b.last = now, st
	return st
}
