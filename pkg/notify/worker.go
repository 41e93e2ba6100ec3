// Package notify tells people what happened to port requests: it fans
// every event of the requests' outboxes (porting.Event, written in the
// same store write as the change) out to deliveries, one per channel that
// wants it, and delivers them with leases and retries, so that a crash
// anywhere loses no event and several replicas deliver each once.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/portreqd/portreqd/pkg/porting"
)

// Store is what the worker reads and writes (kazoo.Store).
type Store interface {
	OutboxEvents(ctx context.Context, site string, since int64, fn func(porting.Event) error) error
	CreateDeliveries(ctx context.Context, ds []*porting.Delivery) (int, error)
	DueDeliveries(ctx context.Context, now int64, limit int) ([]*porting.Delivery, error)
	UpdateDelivery(ctx context.Context, d *porting.Delivery) error
}

// Channel delivers events one way: e-mail to one audience, or webhooks
// (one target per subscription).
type Channel interface {
	// Name prefixes the names of the targets the channel delivers to
	// (a delivery's channel); stable across restarts.
	Name() string
	// Targets names the targets that take e (none: not delivered).
	Targets(ctx context.Context, e *porting.Event) ([]string, error)
	// Deliver delivers d's event to d's target once. An error is retried
	// later, and what it says is kept in the delivery's log.
	Deliver(ctx context.Context, d *porting.Delivery) error
}

// Worker fans out and delivers.
type Worker struct {
	Store    Store
	Site     string // the site whose events this worker delivers
	Channels []Channel
	Log      *slog.Logger
	Now      func() time.Time
	// Holder names this worker on its leases.
	Holder string
	// Poll is how often it looks for new events and due deliveries
	// (default 1 s); LeaseFor how long an attempt may take before another
	// worker takes it over (default 2 min); RetryFor how long a delivery
	// is retried before it is given up (default 24 h).
	Poll, LeaseFor, RetryFor time.Duration

	seen    map[string]int64 // event ids fanned out, with their time
	horizon int64            // Gregorian seconds: events before are fanned out
}

// lookBack is how far (seconds) before the last event seen each pass
// looks again: an event written with an earlier clock, or indexed late,
// is still found.
const lookBack = 300

func (w *Worker) defaults() {
	if w.Now == nil {
		w.Now = time.Now
	}
	if w.Log == nil {
		w.Log = slog.New(slog.DiscardHandler)
	}
	if w.Poll <= 0 {
		w.Poll = time.Second
	}
	if w.LeaseFor <= 0 {
		w.LeaseFor = 2 * time.Minute
	}
	if w.RetryFor <= 0 {
		w.RetryFor = 24 * time.Hour
	}
	if w.Holder == "" {
		w.Holder = porting.RandomID()
	}
	if w.seen == nil {
		w.seen = map[string]int64{}
		// The first pass looks back as far as a delivery is retried: an
		// event older than that would be given up at once (and a channel
		// set up today does not mail last week's news).
		w.horizon = porting.Gregorian(w.Now()) - int64(w.RetryFor.Seconds())
	}
}

// Run fans out and delivers every Poll until ctx ends. A pass that fails
// is logged and tried again at the next.
func (w *Worker) Run(ctx context.Context) error {
	w.defaults()
	for {
		if err := w.Pass(ctx); err != nil && ctx.Err() == nil {
			w.Log.Warn("notification pass failed; trying again", "error", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(w.Poll):
		}
	}
}

// Pass fans out the events written since the last pass and attempts
// every delivery due.
func (w *Worker) Pass(ctx context.Context) error {
	w.defaults()
	if err := w.fanOut(ctx); err != nil {
		return err
	}
	return w.deliverDue(ctx)
}

func (w *Worker) fanOut(ctx context.Context) error {
	var ds []*porting.Delivery
	var ids []string
	newest := w.horizon
	now := w.Now().UnixMilli()
	err := w.Store.OutboxEvents(ctx, w.Site, w.horizon-lookBack, func(e porting.Event) error {
		newest = max(newest, e.Timestamp)
		if _, ok := w.seen[e.ID]; ok {
			return nil
		}
		ids = append(ids, e.ID)
		for _, ch := range w.Channels {
			targets, err := ch.Targets(ctx, &e)
			if err != nil {
				return err
			}
			for _, t := range targets {
				ds = append(ds, &porting.Delivery{ID: porting.DeliveryID(e.ID, t), Event: e, Channel: t,
					State: porting.DeliveryPending, Due: now, Created: now})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if _, err := w.Store.CreateDeliveries(ctx, ds); err != nil {
		return err
	}
	for _, id := range ids {
		w.seen[id] = newest
	}
	w.horizon = newest
	for id, at := range w.seen { // forget what the look back no longer reaches
		if at < w.horizon-2*lookBack {
			delete(w.seen, id)
		}
	}
	return nil
}

// deliverBatch bounds the deliveries one pass attempts.
const deliverBatch = 50

func (w *Worker) deliverDue(ctx context.Context) error {
	due, err := w.Store.DueDeliveries(ctx, w.Now().UnixMilli(), deliverBatch)
	if err != nil {
		return err
	}
	for _, d := range due {
		if ctx.Err() != nil {
			return nil
		}
		now := w.Now().UnixMilli()
		if d.Lease != nil && d.Lease.Until > now && d.Lease.Holder != w.Holder {
			continue // another worker attempts it now
		}
		ch := w.channelOf(d.Channel)
		if ch == nil {
			continue // a channel this process lacks (another replica's configuration)
		}
		d.Lease = &porting.Lease{Holder: w.Holder, Until: now + w.LeaseFor.Milliseconds()}
		if err := w.Store.UpdateDelivery(ctx, d); err != nil {
			if porting.IsKind(err, porting.KindConflict) {
				continue // another worker took it
			}
			return err
		}
		w.attempt(ctx, ch, d)
	}
	return nil
}

// channelOf is the channel delivering to target.
func (w *Worker) channelOf(target string) Channel {
	for _, ch := range w.Channels {
		if strings.HasPrefix(target, ch.Name()) {
			return ch
		}
	}
	return nil
}

// attempt delivers d (leased) and records the outcome.
func (w *Worker) attempt(ctx context.Context, ch Channel, d *porting.Delivery) {
	dctx, cancel := context.WithTimeout(ctx, w.LeaseFor/2)
	err := ch.Deliver(dctx, d)
	cancel()
	now := w.Now().UnixMilli()
	d.Attempts++
	d.Lease = nil
	a := porting.Attempt{At: now, OK: err == nil}
	switch {
	case err == nil:
		d.State = porting.DeliveryDone
	case errors.Is(err, ErrNoRecipients):
		d.State, a.OK, a.Detail = porting.DeliveryDone, true, "nothing sent: "+err.Error()
		err = nil
	case errors.Is(err, ErrGone):
		d.State, a.Detail = porting.DeliveryFailed, err.Error()
	case now-d.Created >= w.RetryFor.Milliseconds():
		d.State = porting.DeliveryFailed
		a.Detail = err.Error()
	default:
		d.Due = now + backoff(d.Attempts).Milliseconds()
		a.Detail = err.Error()
	}
	d.Log = append(d.Log, a)
	if len(d.Log) > maxLog {
		d.Log = d.Log[len(d.Log)-maxLog:]
	}
	// The outcome is written with the lease's revision; if that fails the
	// lease expires and the delivery is attempted again (at least once).
	if uerr := w.Store.UpdateDelivery(context.WithoutCancel(ctx), d); uerr != nil {
		w.Log.Error("delivery outcome not recorded: it will be attempted again", "delivery", d.ID, "error", uerr)
	}
	switch {
	case err == nil:
		w.Log.Info("delivered", "delivery", d.ID, "event", string(d.Event.Type), "request_id", d.Event.RequestID, "attempts", d.Attempts)
	case d.State == porting.DeliveryFailed:
		w.Log.Error("delivery given up", "delivery", d.ID, "attempts", d.Attempts, "error", err)
	default:
		w.Log.Warn("delivery failed; retrying", "delivery", d.ID, "attempts", d.Attempts, "in", time.Duration(d.Due-now)*time.Millisecond, "error", err)
	}
}

// maxLog bounds the attempts a delivery keeps in its log.
const maxLog = 20

// backoff is the wait before attempt n+1: exponential from 5 s, capped at
// an hour, with full jitter over its upper half so that a crowd of
// failures spreads out.
func backoff(n int) time.Duration {
	d := min(5*time.Second<<min(n-1, 10), time.Hour)
	return d/2 + rand.N(d/2+1)
}

// ErrNoRecipients is a delivery with no one to deliver to, or a mail the
// account turned off: done, nothing sent.
var ErrNoRecipients = errors.New("notify: no recipients")

// ErrGone is a delivery whose target no longer exists (a subscription
// deleted): given up at once.
var ErrGone = errors.New("notify: the target is gone")

func errorf(format string, args ...any) error { return fmt.Errorf("notify: "+format, args...) }
