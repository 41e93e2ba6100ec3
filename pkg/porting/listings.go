package porting

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// MaxWindow is the widest modified window a windowed listing may ask for
// (31 days), Kazoo's bound.
const MaxWindow = 2682000

// DefaultPageSize is the page size of windowed listings.
const DefaultPageSize = 50

// ListOptions are a listing's query parameters.
type ListOptions struct {
	From, To    int64  // modified window; zero = default (ending now)
	StartKey    string // as the client sent it: a timestamp, the seed's array, or a next_start_key
	PageSize    int    // zero = DefaultPageSize
	NoPaginate  bool   // paginate=false
	Descendants bool   // the /descendants/ variant
}

// window resolves and checks a listing's modified window.
func (s *Service) window(o ListOptions) (from, to int64, err error) {
	to = o.To
	if to == 0 {
		to = s.gregorianNow()
	}
	from = o.From
	if from == 0 {
		from = to - MaxWindow
	}
	if from > to {
		return 0, 0, ValidationError("modified_from", "maximum",
			"modified_from must not be after modified_to", map[string]any{"value": from, "target": to})
	}
	if to-from > MaxWindow {
		return 0, 0, ValidationError("modified_to", "range",
			fmt.Sprintf("the window from modified_from to modified_to must not exceed %d seconds", MaxWindow),
			map[string]any{"value": to - from, "target": MaxWindow})
	}
	return from, to, nil
}

// parseStartKey reads a start_key: a Gregorian timestamp, the seed's
// [account, state, timestamp] array, or our next_start_key "ts:id" (resume
// strictly after that row, so rows sharing a second are neither repeated
// nor skipped).
func parseStartKey(raw string) (*Cursor, error) {
	raw = strings.TrimSpace(raw)
	bad := ValidationError("start_key", "format",
		"start_key must be a timestamp, [account_id, state, timestamp], or a next_start_key", map[string]any{"value": raw})
	if raw == "" {
		return nil, nil
	}
	if ts, id, ok := strings.Cut(raw, ":"); ok {
		n, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || !IsID(id) {
			return nil, bad
		}
		return &Cursor{Modified: n, ID: id}, nil
	}
	if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
		return &Cursor{Modified: n}, nil
	}
	var arr []json.RawMessage
	if json.Unmarshal([]byte(raw), &arr) == nil && len(arr) >= 3 {
		var n int64
		if json.Unmarshal(arr[2], &n) == nil {
			c := &Cursor{Modified: n}
			if len(arr) >= 4 {
				var id string
				if json.Unmarshal(arr[3], &id) == nil && IsID(id) {
					c.ID = id
				}
			}
			return c, nil
		}
	}
	return nil, bad
}

// ListPlan is what a listing reads, as the rules decide it: its queries,
// one per state, and the paging its answer carries. Package rows reads it.
type ListPlan struct {
	Queries []ListQuery
	// StartKey is the start_key the answer carries; nil for none.
	StartKey any
	// Paginated is set when the answer is a page: it carries page_size
	// and, when more rows follow, next_start_key.
	Paginated bool
}

// PlanListState plans the listing of the requests of one state through
// account accountID: the windowed states are paged and bounded by a
// modified window, the working states are listed whole.
func (s *Service) PlanListState(ctx context.Context, actor *Account, accountID string, state State, o ListOptions) (ListPlan, error) {
	var p ListPlan
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return p, err
	}
	q := ListQuery{Account: accountID, Descendants: o.Descendants, State: state}
	if state.Windowed() {
		from, to, err := s.window(o)
		if err != nil {
			return p, err
		}
		q.From, q.To = from, to
		after, err := parseStartKey(o.StartKey)
		if err != nil {
			return p, err
		}
		q.After = after
		if !o.NoPaginate {
			q.Limit = o.PageSize
			if q.Limit <= 0 {
				q.Limit = DefaultPageSize
			}
			p.Paginated = true
		}
		p.StartKey = []any{accountID, string(state), to}
		if after != nil {
			p.StartKey = o.StartKey
		}
	}
	p.Queries = []ListQuery{q}
	return p, nil
}

// PlanListAll plans the all-states listing, as Kazoo 4.0 answers it: the
// working states in full, unconfirmed, completed and canceled within the
// window. Its rows are merged newest first.
func (s *Service) PlanListAll(ctx context.Context, actor *Account, accountID string, o ListOptions) (ListPlan, error) {
	var p ListPlan
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return p, err
	}
	from, to, err := s.window(o)
	if err != nil {
		return p, err
	}
	for _, st := range States {
		q := ListQuery{Account: accountID, Descendants: o.Descendants, State: st}
		if st == Unconfirmed || st.Windowed() {
			q.From, q.To = from, to
		}
		p.Queries = append(p.Queries, q)
	}
	return p, nil
}

// NextStartKey is the next_start_key of a page whose last row is r: a
// listing given it resumes strictly after r, so rows sharing a second are
// neither repeated nor skipped.
func NextStartKey(r *Request) string { return fmt.Sprintf("%d:%s", r.Modified, r.ID) }

// PlanByNumber checks a by_number listing through account accountID and
// returns the number asked for in E.164.
func (s *Service) PlanByNumber(ctx context.Context, actor *Account, accountID, number string) (string, error) {
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return "", err
	}
	e164, ok := NormalizeNumber(number)
	if !ok {
		return "", ValidationError("by_number", "pattern", fmt.Sprintf("%q is not a phone number", number),
			map[string]any{"cause": number})
	}
	return e164, nil
}

// ListedThrough reports whether a by_number listing through account
// accountID shows r: accountID's own requests, and with descendants those
// of its whole subtree.
func (r *Request) ListedThrough(accountID string, descendants bool) bool {
	return r.AccountID == accountID || descendants && r.VisibleTo(accountID)
}
