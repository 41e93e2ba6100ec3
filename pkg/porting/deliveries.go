package porting

import "context"

// Delivery is one event on its way to one channel (an e-mail audience, a
// webhook subscription): a document of the deliveries database, id
// "<event id>:<channel>", so that fanning an event out twice (two
// replicas, a restart) makes it once. A worker leases it before it
// delivers, so that one replica delivers it, and records each attempt.
type Delivery struct {
	ID      string `json:"_id"`
	Rev     string `json:"_rev,omitempty"`
	Type    string `json:"pvt_type"` // DeliveryType
	Event   Event  `json:"event"`
	Channel string `json:"channel"`
	State   string `json:"state"` // DeliveryPending, DeliveryDone or DeliveryFailed
	// Due is when the next attempt may run (Unix milliseconds).
	Due      int64 `json:"due"`
	Attempts int   `json:"attempts"`
	// Lease is the worker attempting it now, until when (Unix ms).
	Lease   *Lease    `json:"lease,omitempty"`
	Log     []Attempt `json:"log,omitempty"`
	Created int64     `json:"created"` // Unix milliseconds
}

// DeliveryType is pvt_type of a delivery document.
const DeliveryType = "port_delivery"

// Delivery states.
const (
	DeliveryPending = "pending"
	DeliveryDone    = "delivered"
	DeliveryFailed  = "failed" // retried for the whole retry window in vain
)

// Lease says which worker attempts a delivery, until when.
type Lease struct {
	Holder string `json:"holder"`
	Until  int64  `json:"until"`
}

// Attempt is one try of a delivery.
type Attempt struct {
	At     int64  `json:"at"` // Unix milliseconds
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// DeliveryID is the id of event id's delivery to channel.
func DeliveryID(eventID, channel string) string { return eventID + ":" + channel }

// DeliveryStatus is what an operator watches of the deliveries: how many
// wait, how long the oldest has waited, how many failed for good, the
// last failures.
type DeliveryStatus struct {
	Pending        int         `json:"pending"`
	OldestPendingS int64       `json:"oldest_pending_seconds"`
	Delivered24h   int         `json:"delivered_last_24h"`
	Failed         int         `json:"failed"`
	RecentFailures []*Delivery `json:"-"`
}

// DeliveryStatusStore counts deliveries by state.
type DeliveryStatusStore interface {
	DeliveryStatus(ctx context.Context, now int64, recent int) (*DeliveryStatus, error)
}

// DeliveryStatus reports the deliveries of this site's store to a
// super-duper admin (the operator).
func (s *Service) DeliveryStatus(ctx context.Context, actor *Account) (*DeliveryStatus, error) {
	if !actor.SuperDuperAdmin {
		return nil, Forbidden("only the master account sees the deliveries")
	}
	st, ok := s.store.(DeliveryStatusStore)
	if !ok {
		return nil, E(KindNotFound, "deliveries are not kept by this store")
	}
	return st.DeliveryStatus(ctx, s.now().UnixMilli(), 20)
}

// MarkSent records that submitted request id reached its account's
// submitted_port_requests_url (Kazoo's pvt_sent, shown as sent); a
// request no longer submitted, or sent already, is left as it is.
func (s *Service) MarkSent(ctx context.Context, id string) error {
	return s.retryConflict(ctx, func() error {
		r, err := s.store.GetRequest(ctx, id)
		if err != nil {
			return err
		}
		if r.State != Submitted || r.Sent {
			return nil
		}
		next := *r
		next.Sent = true
		return s.store.UpdateRequest(ctx, &next)
	})
}
