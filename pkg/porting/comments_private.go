package porting

import (
	"context"
	"encoding/json"
	"sort"
)

// Private comments, as Kazoo 4.3 keeps them: a comment with "is_private":
// true (or Kazoo 4.0's "superduper_comment": true, which 4.3 reads the
// same way) is for the port authority and super-duper admins; everyone
// else reads the request without it.

// privateComment tells whether comment c is private.
func privateComment(c json.RawMessage) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(c, &m) != nil {
		return false
	}
	return string(m["is_private"]) == "true" || string(m["superduper_comment"]) == "true"
}

// comments returns the request's comments, each as stored; nil when it has
// none, or they are not a list.
func (r *Request) comments() []json.RawMessage {
	raw, ok := r.Public["comments"]
	if !ok {
		return nil
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		return nil
	}
	return list
}

// HasPrivateComments tells whether some readers see the request without
// some of its comments.
func (r *Request) HasPrivateComments() bool {
	for _, c := range r.comments() {
		if privateComment(c) {
			return true
		}
	}
	return false
}

// PublicView is View without the private comments: the request as a
// reader who is neither its port authority nor a super-duper admin sees
// it.
func (r *Request) PublicView() Fields {
	v := r.View()
	list := r.comments()
	if list == nil {
		return v
	}
	public := make([]json.RawMessage, 0, len(list))
	for _, c := range list {
		if !privateComment(c) {
			public = append(public, c)
		}
	}
	v.Set("comments", public)
	return v
}

// DocAuthority is the port authority the document names (Kazoo 4.3's
// pvt_port_authority), "" when it names none.
func (r *Request) DocAuthority() string { return r.Private.String("pvt_port_authority") }

// SeesPrivateComments tells whether actor reads the private comments of a
// request of account accountID whose document names docAuthority (maybe
// ""): super-duper admins (the master among them) and the request's port
// authority (RequestAuthority) do.
func (s *Service) SeesPrivateComments(ctx context.Context, actor *Account, accountID, docAuthority string) (bool, error) {
	if actor.SuperDuperAdmin {
		return true, nil
	}
	if m, err := s.master(ctx); err == nil && m.ID == actor.ID {
		return true, nil
	} else if err != nil && !IsKind(err, KindNotFound) {
		return false, err
	}
	auth, err := s.authorityFor(ctx, accountID, docAuthority)
	switch {
	case IsKind(err, KindNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return auth.ID == actor.ID, nil
}

// mergeComments is what an edit's comments (public members data, from a
// POST or PATCH of request r) become, as Kazoo 4.3 merges them: the stored
// comments stay as they are (comments change only through the comment
// routes, so a client echoing a stale copy deletes nothing), and a sent
// comment newer than the newest stored one is added, stamped as on the
// comment route; only a reader of private comments may add a private or
// action-required one.
func (s *Service) mergeComments(ctx context.Context, actor *Account, r *Request, data Fields) (Fields, error) {
	stored := r.comments()
	raw, sentAny := data["comments"]
	if !sentAny && stored == nil {
		return data, nil
	}
	var sent []json.RawMessage
	if sentAny && json.Unmarshal(raw, &sent) != nil {
		return nil, ValidationError("comments", "type", "Value did not match type(s): array", nil)
	}
	var latest float64
	for _, c := range stored {
		latest = max(latest, commentTime(c))
	}
	merged := append([]json.RawMessage{}, stored...)
	privileged := false
	for _, c := range sent {
		m, ok := asObject(c)
		if !ok || m.Number("timestamp") <= latest {
			continue // one of the stored comments, as the client last saw it
		}
		privileged = privileged || privateComment(c) || m.Bool("action_required")
		s.stampComment(m, actor)
		merged = append(merged, m.JSON())
	}
	if privileged {
		sees, err := s.SeesPrivateComments(ctx, actor, r.AccountID, r.DocAuthority())
		if err != nil {
			return nil, err
		}
		if !sees {
			return nil, ValidationError("comments", "forbidden", "only the port authority may write private comments or set action_required", nil)
		}
	}
	sortComments(merged)
	out := data.Clone()
	out.Set("comments", merged)
	return out, nil
}

// sortComments orders comments oldest first by timestamp; comments of one
// timestamp (or none) keep their order.
func sortComments(list []json.RawMessage) {
	sort.SliceStable(list, func(i, j int) bool { return commentTime(list[i]) < commentTime(list[j]) })
}

// commentTime is comment c's timestamp, 0 when it has none.
func commentTime(c json.RawMessage) float64 {
	var m struct {
		Timestamp float64 `json:"timestamp"`
	}
	_ = json.Unmarshal(c, &m)
	return m.Timestamp
}

// visibleCommentIndex is the index in r's comments of the i-th comment
// actor sees; -1 when there is none.
func (s *Service) visibleCommentIndex(ctx context.Context, actor *Account, r *Request, i int) (int, error) {
	list := r.comments()
	sees := true
	if r.HasPrivateComments() {
		var err error
		if sees, err = s.SeesPrivateComments(ctx, actor, r.AccountID, r.DocAuthority()); err != nil {
			return -1, err
		}
	}
	for k, c := range list {
		if !sees && privateComment(c) {
			continue
		}
		if i == 0 {
			return k, nil
		}
		i--
	}
	return -1, nil
}
