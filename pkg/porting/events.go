package porting

import (
	"encoding/json"
	"slices"
)

// EventType names what happened to a port request. Each has its Kazoo
// notification template (package notify), but created and conflict
// resolved, which Kazoo does not mail about.
type EventType string

// The events of a port request.
const (
	EventCreated          EventType = "created"
	EventSubmitted        EventType = "submitted"
	EventPending          EventType = "pending"
	EventScheduled        EventType = "scheduled"
	EventCompleted        EventType = "completed"
	EventRejected         EventType = "rejected"
	EventCanceled         EventType = "canceled"
	EventComment          EventType = "comment"
	EventConflictResolved EventType = "conflict_resolved"
)

// EventTypes lists every event type, in life-cycle order.
var EventTypes = []EventType{EventCreated, EventSubmitted, EventPending, EventScheduled, EventCompleted,
	EventRejected, EventCanceled, EventComment, EventConflictResolved}

// Event is one entry of a port request's outbox (pvt_outbox). It is
// written in the same document write as the change it reports, so a
// change acknowledged is never without its event, whatever dies after;
// the delivery worker (package notify) fans each out to its deliveries
// and the site that wrote it delivers them.
type Event struct {
	ID        string    `json:"id"`
	Type      EventType `json:"type"`
	Timestamp int64     `json:"timestamp"` // Gregorian seconds
	// Site is the site that wrote the event and delivers it ("" when the
	// store replicates with no one).
	Site      string `json:"site,omitempty"`
	RequestID string `json:"port_request_id"`
	AccountID string `json:"account_id"` // the request's account
	State     State  `json:"state"`      // the request's state after the change
	Actor     struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"actor"`
	// Reason is a transition's reason (a rejection's, a cancellation's).
	Reason string `json:"reason,omitempty"`
	// Comment is the comment an EventComment reports, as stored.
	Comment json.RawMessage `json:"comment,omitempty"`
}

// PrivateComment reports whether an EventComment is a private comment,
// which only the port authority may read.
func (e *Event) PrivateComment() bool {
	return len(e.Comment) > 0 && privateComment(e.Comment)
}

// outboxMember holds a request's outbox.
const outboxMember = "pvt_outbox"

// outboxKeep is how long (seconds) an event stays in its request's outbox
// once written: the delivery worker records its deliveries within seconds;
// the outbox keeps a week so that a worker down for days still finds it.
const outboxKeep = 7 * 24 * 3600

// Outbox is the events of r's outbox, oldest first.
func (r *Request) Outbox() []Event {
	var out []Event
	if raw, ok := r.Private[outboxMember]; ok {
		_ = json.Unmarshal(raw, &out)
	}
	return out
}

// addEvent appends e to r's outbox, dropping events older than outboxKeep.
func (r *Request) addEvent(e Event) {
	events := slices.DeleteFunc(r.Outbox(), func(old Event) bool { return e.Timestamp-old.Timestamp > outboxKeep })
	events = append(events, e)
	r.Private = r.Private.Clone()
	r.Private.Set(outboxMember, events)
}

// event makes an event of type t about r, as it stands after the change,
// by actor.
func (s *Service) event(t EventType, r *Request, actor *Account, now int64) Event {
	e := Event{ID: RandomID(), Type: t, Timestamp: now, Site: s.site, RequestID: r.ID, AccountID: r.AccountID, State: r.State}
	if actor != nil {
		e.Actor.ID, e.Actor.Name = actor.ID, actor.Name
	}
	return e
}

// stateEvent is the event a transition to state to makes: the events of
// the life cycle are named after the states they reach.
func stateEvent(to State) EventType { return EventType(to) }
