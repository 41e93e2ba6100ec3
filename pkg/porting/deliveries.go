package porting

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
