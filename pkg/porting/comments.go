package porting

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
)

// AddComments appends comments to request id (PUT …/comments) and returns
// the request. Each comment is stamped as Kazoo 4.3 stamps it: account_id
// is the writer's account (never what was sent), author defaults to its
// name, timestamp to now, is_private and action_required to false. Only a
// reader of private comments (the request's port authority, super-duper
// admins) may write a private comment or one that requires action.
func (s *Service) AddComments(ctx context.Context, actor *Account, accountID, id string, data Fields) (*Request, error) {
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return nil, err
	}
	var sent []json.RawMessage
	if raw, ok := data["comments"]; !ok || jsonType(raw) != "array" || json.Unmarshal(raw, &sent) != nil {
		return nil, ValidationError("comments", "type", "Value did not match type(s): array", nil)
	}
	add := make([]json.RawMessage, len(sent))
	privileged := false
	for i, c := range sent {
		m, ok := asObject(c)
		if !ok {
			return nil, ValidationError("comments."+strconv.Itoa(i), "type", "Value did not match type(s): object", nil)
		}
		privileged = privileged || privateComment(c) || m.Bool("action_required")
		s.stampComment(m, actor)
		add[i] = m.JSON()
	}
	var checked bool
	return s.editComments(ctx, accountID, id, func(r *Request, cs []json.RawMessage) ([]json.RawMessage, error) {
		if privileged && !checked {
			sees, err := s.SeesPrivateComments(ctx, actor, r.AccountID, r.DocAuthority())
			if err != nil {
				return nil, err
			}
			if !sees {
				return nil, ValidationError("comments", "forbidden", "only the port authority may write private comments or set action_required", nil)
			}
			checked = true
		}
		now := s.gregorianNow()
		for _, c := range add {
			ev := s.event(EventComment, r, actor, now)
			ev.Comment = c
			r.addEvent(ev)
		}
		return append(cs, add...), nil
	})
}

// stampComment sets the members Kazoo 4.3 sets on a new comment.
func (s *Service) stampComment(m Fields, actor *Account) {
	m.Set("account_id", actor.ID)
	if strings.TrimSpace(m.String("author")) == "" {
		m.Set("author", actor.Name)
	}
	if m.Number("timestamp") <= 0 {
		m.Set("timestamp", s.gregorianNow())
	}
	if _, ok := m["is_private"]; !ok {
		m.Set("is_private", m.Bool("superduper_comment"))
	}
	if _, ok := m["action_required"]; !ok {
		m.Set("action_required", false)
	}
}

// Comments is the comments of request id that actor may read (GET
// …/comments).
func (s *Service) Comments(ctx context.Context, actor *Account, accountID, id string) ([]json.RawMessage, error) {
	_, list, err := s.visibleComments(ctx, actor, accountID, id)
	return list, err
}

// visibleComments reads request id for actor with the comments actor may
// read, as stored.
func (s *Service) visibleComments(ctx context.Context, actor *Account, accountID, id string) (*Request, []json.RawMessage, error) {
	r, err := s.GetRequest(ctx, actor, accountID, id)
	if err != nil {
		return nil, nil, err
	}
	sees, err := s.SeesPrivateComments(ctx, actor, r.AccountID, r.DocAuthority())
	if err != nil {
		return nil, nil, err
	}
	out := []json.RawMessage{}
	for _, c := range r.comments() {
		if sees || !privateComment(c) {
			out = append(out, c)
		}
	}
	return r, out, nil
}

// DeleteComment removes the comment at index (counting the comments actor
// sees). A comment that names its writer (account_id) may be deleted by
// that account or by a reader of private comments (the port authority);
// one that names nobody (Kazoo 4.0, earlier portreqd) by anyone who may
// read the request.
func (s *Service) DeleteComment(ctx context.Context, actor *Account, accountID, id, index string) (*Request, error) {
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(index)
	return s.editComments(ctx, accountID, id, func(r *Request, cs []json.RawMessage) ([]json.RawMessage, error) {
		if err != nil || n < 0 {
			return nil, NotFound(index)
		}
		i, err := s.visibleCommentIndex(ctx, actor, r, n)
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= len(cs) {
			return nil, NotFound(index)
		}
		if m, ok := asObject(cs[i]); ok {
			if writer := m.String("account_id"); writer != "" && writer != actor.ID {
				sees, err := s.SeesPrivateComments(ctx, actor, r.AccountID, r.DocAuthority())
				if err != nil {
					return nil, err
				}
				if !sees {
					return nil, Forbidden("only the comment's author or the port authority may delete it")
				}
			}
		}
		return append(append([]json.RawMessage{}, cs[:i]...), cs[i+1:]...), nil
	})
}

func (s *Service) editComments(ctx context.Context, accountID, id string, edit func(*Request, []json.RawMessage) ([]json.RawMessage, error)) (*Request, error) {
	var out *Request
	err := s.retryConflict(ctx, func() error {
		r, err := s.requestFor(ctx, accountID, id)
		if err != nil {
			return err
		}
		var cs []json.RawMessage
		_ = json.Unmarshal(r.Public["comments"], &cs)
		if cs, err = edit(r, cs); err != nil {
			return err
		}
		if cs == nil {
			cs = []json.RawMessage{}
		}
		prev := *r
		r.Public = r.Public.Clone()
		r.Public.Set("comments", cs)
		if err := s.checkLimits(r, &prev); err != nil {
			return err
		}
		r.Modified = s.gregorianNow()
		if err := s.store.UpdateRequest(ctx, r); err != nil {
			return err
		}
		out = r
		return nil
	})
	return out, err
}

// PhoneNumbers lists the numbers in service in account accountID.
func (s *Service) PhoneNumbers(ctx context.Context, actor *Account, accountID string) ([]*PhoneNumber, error) {
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return nil, err
	}
	return s.store.AccountNumbers(ctx, accountID)
}
