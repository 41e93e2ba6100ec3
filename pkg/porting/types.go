package porting

import (
	"context"
	"strings"
)

// Kazoo 4.3's by_types groups: the tabs of Monster UI master's port
// listing. A listing asked for a group lists those states; completed and
// canceled within the modified window, the others in full.
var typeGroups = map[string][]State{
	"active":      {Unconfirmed, Submitted, Pending, Scheduled, Rejected},
	"all":         States,
	"progressing": {Submitted, Pending, Scheduled},
	"suspended":   {Unconfirmed, Rejected},
	"completed":   {Completed, Canceled},
}

// ParseTypes reads a by_types value: one group name (active, all,
// progressing, suspended, completed) or a comma-separated list of states.
// Anything else is refused, naming what was not understood.
func ParseTypes(raw string) ([]State, error) {
	if g, ok := typeGroups[strings.TrimSpace(raw)]; ok {
		return g, nil
	}
	var bad []string
	seen := map[State]bool{}
	var states []State
	for _, part := range strings.Split(raw, ",") {
		part = strings.TrimSpace(part)
		st, ok := ParseState(part)
		if !ok {
			bad = append(bad, part)
			continue
		}
		if !seen[st] {
			seen[st] = true
			states = append(states, st)
		}
	}
	if len(bad) > 0 || len(states) == 0 {
		return nil, ValidationError("by_types", "enum",
			"query string by_types contained invalid values: "+strings.Join(bad, ","),
			map[string]any{"value": raw})
	}
	return states, nil
}

// PlanListTypes plans a by_types listing through account accountID:
// each state in full, completed and canceled within the modified window;
// never paged (Kazoo 4.3 answers these listings whole).
func (s *Service) PlanListTypes(ctx context.Context, actor *Account, accountID string, states []State, o ListOptions) (ListPlan, error) {
	var p ListPlan
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return p, err
	}
	return s.planStates(ListQuery{Account: accountID, Descendants: o.Descendants}, states, o)
}

func (s *Service) planStates(base ListQuery, states []State, o ListOptions) (ListPlan, error) {
	var p ListPlan
	from, to, err := s.window(o)
	if err != nil {
		return p, err
	}
	for _, st := range states {
		q := base
		q.State = st
		if st.Windowed() {
			q.From, q.To = from, to
		}
		p.Queries = append(p.Queries, q)
	}
	return p, nil
}

// PlanAgentQueue plans GET /v2/port_requests, the port authority's queue
// (Kazoo 4.3's agent_listing_by_state): the requests whose document names
// actor as its port authority, in states (nil: the active group). Only a
// port authority may ask, for itself: the master account, an account
// flagged port_authority, or one its whitelabel names so. Requests written
// without pvt_port_authority (Kazoo 4.0) name no authority and are not in
// any queue; they are listed through the accounts as before.
func (s *Service) PlanAgentQueue(ctx context.Context, actor *Account, states []State, o ListOptions) (ListPlan, error) {
	var p ListPlan
	ok, err := s.isAuthority(ctx, actor)
	if err != nil {
		return p, err
	}
	if !ok {
		return p, Forbidden("only a port authority has a queue of port requests")
	}
	if states == nil {
		states = typeGroups["active"]
	}
	return s.planStates(ListQuery{Account: actor.ID, ByAuthority: true}, states, o)
}

// isAuthority reports whether actor acts as a port authority for its own
// tree: the master, an account flagged port_authority, or one whose
// whitelabel names itself the authority.
func (s *Service) isAuthority(ctx context.Context, actor *Account) (bool, error) {
	if actor.SuperDuperAdmin || actor.PortAuthority {
		return true, nil
	}
	m, err := s.master(ctx)
	if err != nil && !IsKind(err, KindNotFound) {
		return false, err
	}
	if m != nil && m.ID == actor.ID {
		return true, nil
	}
	wl, err := s.store.WhitelabelPortAuthority(ctx, actor.ID)
	if err != nil {
		return false, err
	}
	return wl == actor.ID, nil
}
