package porting

import (
	"context"
	"encoding/json"
	"sort"
)

// Timeline is Kazoo 4.3's timeline of request id (GET …/timeline): the
// comments actor may read and the transitions, oldest first; a comment
// goes before a transition of the same second. Comments are as stored,
// with Kazoo 4.0's superduper_comment read as is_private; transitions as
// stored, typed "transition".
func (s *Service) Timeline(ctx context.Context, actor *Account, accountID, id string) ([]json.RawMessage, error) {
	r, comments, err := s.visibleComments(ctx, actor, accountID, id)
	if err != nil {
		return nil, err
	}
	type entry struct {
		ts         int64
		transition bool
		raw        json.RawMessage
	}
	var entries []entry
	for _, c := range comments {
		m, ok := asObject(c)
		if !ok {
			continue
		}
		if _, has := m["is_private"]; !has {
			m.Set("is_private", privateComment(c))
		}
		entries = append(entries, entry{ts: int64(m.Number("timestamp")), raw: m.JSON()})
	}
	for i := len(r.Transitions) - 1; i >= 0; i-- { // stored newest first
		t := r.Transitions[i]
		b, err := json.Marshal(t)
		if err != nil {
			return nil, Wrap(KindInternal, "encode transition", err)
		}
		m, ok := asObject(b)
		if !ok {
			continue
		}
		if m.String("type") == "" {
			m.Set("type", "transition")
		}
		entries = append(entries, entry{ts: t.Timestamp, transition: true, raw: m.JSON()})
	}
	sort.SliceStable(entries, func(i, j int) bool {
		if entries[i].ts != entries[j].ts {
			return entries[i].ts < entries[j].ts
		}
		return !entries[i].transition && entries[j].transition
	})
	out := make([]json.RawMessage, len(entries))
	for i, e := range entries {
		out[i] = e.raw
	}
	return out, nil
}

// LastSubmitted is Kazoo 4.3's GET …/port_requests/last_submitted: for each
// request of account accountID that is submitted and not yet sent to its
// carrier (pvt_sent), its id and its latest transition to submitted.
// Monster UI shows the submitter's name from that transition's
// authorization.user; a transition written by an API-key caller names no
// user, so the account that submitted stands in (first_name), never
// written back.
func (s *Service) LastSubmitted(ctx context.Context, actor *Account, accountID string) ([]json.RawMessage, error) {
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return nil, err
	}
	var reqs []*Request
	rows, _, err := s.store.ListRequests(ctx, ListQuery{Account: accountID, State: Submitted})
	if err != nil {
		return nil, err
	}
	err = s.store.RequestDocs(ctx, ListRowIDs(rows), func(_ string, doc []byte) error {
		r, err := DecodeRequest(doc)
		if err != nil || r.Deleted || r.AccountID != accountID || r.State != Submitted || r.Private.Bool("pvt_sent") {
			return nil // one broken document must not break the answer
		}
		reqs = append(reqs, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := []json.RawMessage{}
	for _, r := range reqs {
		var latest *Transition
		for i := range r.Transitions {
			t := &r.Transitions[i]
			if t.Transition.New == Submitted && (latest == nil || t.Timestamp > latest.Timestamp) {
				latest = t
			}
		}
		if latest == nil {
			continue
		}
		b, err := json.Marshal(*latest)
		if err != nil {
			return nil, Wrap(KindInternal, "encode transition", err)
		}
		m, ok := asObject(b)
		if !ok {
			continue
		}
		withSubmitter(m, latest)
		entry := Fields{"transition": m.JSON()}
		entry.Set("id", r.ID)
		out = append(out, entry.JSON())
	}
	return out, nil
}

// withSubmitter gives transition m an authorization.user when it has
// none: the submitting account's name as first_name. A user without
// first_name or last_name (Kazoo omits the ones a user lacks) gets them
// empty, since Monster UI's getUserFullName throws without both.
func withSubmitter(m Fields, t *Transition) {
	auth, ok := asObject(m["authorization"])
	if !ok {
		auth = Fields{}
	}
	user, ok := asObject(auth["user"])
	if !ok {
		user = Fields{}
		user.Set("first_name", t.Authorization.Account.Name)
	}
	for _, k := range []string{"first_name", "last_name"} {
		if _, has := user[k]; !has {
			user.Set(k, "")
		}
	}
	auth["user"] = user.JSON()
	m["authorization"] = auth.JSON()
}
