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
		m, ok := object(c)
		if !ok {
			continue
		}
		if _, has := m["is_private"]; !has {
			m["is_private"] = json.RawMessage(boolJSON(privateComment(c)))
		}
		entries = append(entries, entry{ts: int64Member(m, "timestamp"), raw: mustMarshal(m)})
	}
	for i := len(r.Transitions) - 1; i >= 0; i-- { // stored newest first
		t := r.Transitions[i]
		b, err := json.Marshal(t)
		if err != nil {
			return nil, Wrap(KindInternal, "encode transition", err)
		}
		m, ok := object(b)
		if !ok {
			continue
		}
		if _, has := m["type"]; !has || string(m["type"]) == `""` {
			m["type"] = json.RawMessage(`"transition"`)
		}
		entries = append(entries, entry{ts: t.Timestamp, transition: true, raw: mustMarshal(m)})
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
	_, err := s.store.VisitRequests(ctx, ListQuery{Account: accountID, State: Submitted}, func(_, _ []byte, load func() []byte) error {
		doc := load()
		if doc == nil {
			return nil
		}
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
		m, ok := object(b)
		if !ok {
			continue
		}
		withSubmitter(m, latest)
		out = append(out, mustMarshal(map[string]any{"id": r.ID, "transition": m}))
	}
	return out, nil
}

// withSubmitter gives transition m an authorization.user when it has
// none: the submitting account's name as first_name.
func withSubmitter(m map[string]json.RawMessage, t *Transition) {
	auth, _ := object(m["authorization"])
	if auth == nil {
		auth = map[string]json.RawMessage{}
	}
	if user, ok := object(auth["user"]); ok && user != nil {
		return
	}
	auth["user"] = mustMarshal(map[string]string{"first_name": t.Authorization.Account.Name, "last_name": ""})
	m["authorization"] = mustMarshal(auth)
}

// object decodes a JSON object, keeping its members raw.
func object(raw json.RawMessage) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil || m == nil {
		return nil, false
	}
	return m, true
}

func int64Member(m map[string]json.RawMessage, key string) int64 {
	var f float64
	_ = json.Unmarshal(m[key], &f)
	return int64(f)
}

func boolJSON(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func mustMarshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // maps of raw JSON and strings always encode
	}
	return b
}
