package porting

import (
	"encoding/json"
	"fmt"
)

// Limits bound what one port request may hold, so that one tenant cannot
// make a document that stalls the store for everyone (a 100,000-number
// request made another tenant's write wait 19 s) or that CouchDB can never
// replicate (its max_document_size is 8 MB). Zero members take the
// defaults below.
type Limits struct {
	NumbersPerRequest int // numbers on one request
	Comments          int // comments on one request
	CommentBytes      int // the content of one comment, in bytes
	Attachments       int // attachments on one request
}

// The default limits.
const (
	DefaultNumbersPerRequest = 1000
	DefaultComments          = 500
	DefaultCommentBytes      = 10000
	DefaultAttachments       = 20
)

func (l Limits) withDefaults() Limits {
	if l.NumbersPerRequest <= 0 {
		l.NumbersPerRequest = DefaultNumbersPerRequest
	}
	if l.Comments <= 0 {
		l.Comments = DefaultComments
	}
	if l.CommentBytes <= 0 {
		l.CommentBytes = DefaultCommentBytes
	}
	if l.Attachments <= 0 {
		l.Attachments = DefaultAttachments
	}
	return l
}

// checkLimits refuses r, about to replace prev (nil: a new request), when
// it holds more than the limits allow and more than prev did: a document
// over a limit set later stays editable as long as it does not grow.
// Nothing is written.
func (s *Service) checkLimits(r, prev *Request) error {
	l := s.rules.Limits.withDefaults()
	grew := func(measure func(*Request) int, limit int) (int, bool) {
		n := measure(r)
		return n, n > limit && (prev == nil || n > measure(prev))
	}
	if n, over := grew(func(q *Request) int { return len(q.Numbers()) }, l.NumbersPerRequest); over {
		return tooMany("numbers", n, l.NumbersPerRequest, "numbers on one port request; split it into several requests")
	}
	if n, over := grew(func(q *Request) int { return len(q.comments()) }, l.Comments); over {
		return tooMany("comments", n, l.Comments, "comments on one port request")
	}
	before := map[string]bool{}
	if prev != nil {
		for _, c := range prev.comments() {
			before[string(c)] = true
		}
	}
	for i, c := range r.comments() {
		if before[string(c)] {
			continue
		}
		var m struct {
			Content json.RawMessage `json:"content"`
		}
		_ = json.Unmarshal(c, &m)
		if len(m.Content) > l.CommentBytes {
			return ValidationError(fmt.Sprintf("comments.%d.content", i), "maxLength",
				fmt.Sprintf("a comment holds at most %d bytes", l.CommentBytes), map[string]any{"value": len(m.Content)})
		}
	}
	return nil
}

// checkAttachments refuses a new attachment on r beyond the limit.
func (s *Service) checkAttachments(r *Request, name string) error {
	l := s.rules.Limits.withDefaults()
	if _, replacing := r.Attachments[name]; replacing || len(r.Attachments) < l.Attachments {
		return nil
	}
	return tooMany("attachments", len(r.Attachments)+1, l.Attachments, "attachments on one port request")
}

func tooMany(field string, n, limit int, what string) *Error {
	return ValidationError(field, "maxItems", fmt.Sprintf("at most %d %s", limit, what),
		map[string]any{"value": n, "target": limit})
}
