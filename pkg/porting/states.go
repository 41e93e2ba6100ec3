package porting

// State is a port request state, Kazoo's pvt_port_state.
type State string

// The seven states.
const (
	Unconfirmed State = "unconfirmed"
	Submitted   State = "submitted"
	Pending     State = "pending"
	Scheduled   State = "scheduled"
	Completed   State = "completed"
	Rejected    State = "rejected"
	Canceled    State = "canceled"
)

// States lists every state in the order Kazoo lists them.
var States = []State{Unconfirmed, Submitted, Pending, Scheduled, Completed, Rejected, Canceled}

// ParseState returns the state named s.
func ParseState(s string) (State, bool) {
	for _, st := range States {
		if string(st) == s {
			return st, true
		}
	}
	return "", false
}

// Active reports whether requests in s hold their numbers: a number may be
// on at most one submitted, pending or scheduled request.
func (s State) Active() bool { return s == Submitted || s == Pending || s == Scheduled }

// Windowed reports whether listings of s are bounded by a modified window
// and paginated (they grow without bound).
func (s State) Windowed() bool { return s == Completed || s == Canceled }

// transitions maps a target state to the states it may be reached from.
var transitions = map[State][]State{
	Submitted: {Unconfirmed, Rejected},
	Pending:   {Submitted},
	Scheduled: {Pending},
	Completed: {Pending, Scheduled, Rejected},
	Rejected:  {Submitted, Pending, Scheduled},
	Canceled:  {Unconfirmed, Submitted, Pending, Scheduled, Rejected},
}

// CanTransition reports whether a request may move from → to.
// allowSubmittedToScheduled is the operator's --allow-submitted-to-scheduled.
func CanTransition(from, to State, allowSubmittedToScheduled bool) bool {
	if to == Scheduled && from == Submitted && allowSubmittedToScheduled {
		return true
	}
	for _, s := range transitions[to] {
		if s == from {
			return true
		}
	}
	return false
}

// Targets lists the states a PATCH may name.
func Targets() []State { return []State{Submitted, Pending, Scheduled, Completed, Rejected, Canceled} }

// needsAuthority reports whether moving from → to is the port authority's
// business rather than the requesting account's: the account may submit, and
// cancel a request nobody has started working on.
func needsAuthority(from, to State) bool {
	switch to {
	case Submitted:
		return false
	case Canceled:
		return from != Unconfirmed
	default:
		return true
	}
}

// IllegalTransition is the seed's error for a move the table forbids.
func IllegalTransition(to State) *Error {
	return &Error{Kind: KindInvalidRequest, Message: "invalid request", Data: map[string]any{
		"port_state": map[string]any{"enum": map[string]any{
			"cause": string(to), "message": "Cannot move to new state from current state"}}}}
}
