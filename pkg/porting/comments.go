package porting

import (
	"context"
	"encoding/json"
	"strconv"
)

// AddComments appends comments to request id (Monster UI 4.0's
// PUT …/comments) and returns the request.
func (s *Service) AddComments(ctx context.Context, actor *Account, accountID, id string, data Fields) (*Request, error) {
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return nil, err
	}
	var add []json.RawMessage
	if raw, ok := data["comments"]; !ok || jsonType(raw) != "array" || json.Unmarshal(raw, &add) != nil {
		return nil, ValidationError("comments", "type", "Value did not match type(s): array", nil)
	}
	if anyPrivate(data["comments"]) {
		// Only a reader of private comments may write one.
		var checked bool
		edit := func(r *Request, cs []json.RawMessage) ([]json.RawMessage, error) {
			if !checked {
				sees, err := s.SeesPrivateComments(ctx, actor, r.AccountID, r.DocAuthority())
				if err != nil {
					return nil, err
				}
				if !sees {
					return nil, ValidationError("comments", "forbidden", "only the port authority may write private comments", nil)
				}
				checked = true
			}
			return append(cs, add...), nil
		}
		return s.editComments(ctx, accountID, id, edit)
	}
	return s.editComments(ctx, accountID, id, func(_ *Request, cs []json.RawMessage) ([]json.RawMessage, error) {
		return append(cs, add...), nil
	})
}

// DeleteComment removes the comment at index.
func (s *Service) DeleteComment(ctx context.Context, actor *Account, accountID, id, index string) (*Request, error) {
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(index)
	return s.editComments(ctx, accountID, id, func(r *Request, cs []json.RawMessage) ([]json.RawMessage, error) {
		if err != nil || n < 0 {
			return nil, NotFound(index)
		}
		// The index counts the comments the caller sees.
		i, err := s.visibleCommentIndex(ctx, actor, r, n)
		if err != nil {
			return nil, err
		}
		if i < 0 || i >= len(cs) {
			return nil, NotFound(index)
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
		r.Public = r.Public.Clone()
		r.Public.Set("comments", cs)
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
