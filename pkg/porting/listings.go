package porting

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
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

// Group is the requests of one account in a listing.
type Group struct {
	AccountID    string `json:"account_id"`
	AccountName  string `json:"account_name"`
	PortRequests []Row  `json:"port_requests"`
}

// Listing is a listing's answer.
type Listing struct {
	Groups       []Group
	Flat         []Row // by_number answers a flat list instead
	PageSize     int
	StartKey     any
	NextStartKey any
	Paginated    bool
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

// ListState lists the requests of one state through account accountID.
func (s *Service) ListState(ctx context.Context, actor *Account, accountID string, state State, o ListOptions) (*Listing, error) {
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return nil, err
	}
	q := ListQuery{Account: accountID, Descendants: o.Descendants, State: state}
	out := &Listing{}
	if state.Windowed() {
		from, to, err := s.window(o)
		if err != nil {
			return nil, err
		}
		q.From, q.To = from, to
		after, err := parseStartKey(o.StartKey)
		if err != nil {
			return nil, err
		}
		q.After = after
		if !o.NoPaginate {
			q.Limit = o.PageSize
			if q.Limit <= 0 {
				q.Limit = DefaultPageSize
			}
			out.Paginated = true
		}
		out.StartKey = []any{accountID, string(state), to}
		if after != nil {
			out.StartKey = o.StartKey
		}
	}
	if q.Limit == 0 {
		release, err := s.wholeListing(ctx)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	rs, more, err := s.visit(ctx, q)
	if err != nil {
		return nil, err
	}
	if out.Groups, err = s.group(ctx, rs); err != nil {
		return nil, err
	}
	out.PageSize = len(rs)
	if more && len(rs) > 0 {
		last := rs[len(rs)-1].req
		out.NextStartKey = fmt.Sprintf("%d:%s", last.Modified, last.ID)
	}
	return out, nil
}

// ListAll is the all-states listing, as Kazoo 4.0 answers it: the working
// states in full, unconfirmed, completed and canceled within the window.
func (s *Service) ListAll(ctx context.Context, actor *Account, accountID string, o ListOptions) (*Listing, error) {
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return nil, err
	}
	from, to, err := s.window(o)
	if err != nil {
		return nil, err
	}
	release, err := s.wholeListing(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	var all []listed
	for _, st := range States {
		q := ListQuery{Account: accountID, Descendants: o.Descendants, State: st}
		if st == Unconfirmed || st.Windowed() {
			q.From, q.To = from, to
		}
		rs, _, err := s.visit(ctx, q)
		if err != nil {
			return nil, err
		}
		all = append(all, rs...)
	}
	sortNewestFirst(all)
	groups, err := s.group(ctx, all)
	if err != nil {
		return nil, err
	}
	return &Listing{Groups: groups, PageSize: len(all)}, nil
}

// ByNumber lists the requests carrying a number, visible through accountID
// (its own only, or with Descendants its whole subtree), as a flat list.
func (s *Service) ByNumber(ctx context.Context, actor *Account, accountID, number string, descendants bool) (*Listing, error) {
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return nil, err
	}
	e164, ok := NormalizeNumber(number)
	if !ok {
		return nil, ValidationError("by_number", "pattern", fmt.Sprintf("%q is not a phone number", number),
			map[string]any{"cause": number})
	}
	mine, err := s.requestsByNumber(ctx, e164)
	if err != nil {
		return nil, err
	}
	mine = slices.DeleteFunc(mine, func(l listed) bool {
		return l.req.AccountID != accountID && !(descendants && l.req.VisibleTo(accountID))
	})
	sortNewestFirst(mine)
	flat := make([]Row, 0, len(mine))
	w := s.newRows()
	for _, r := range mine {
		v, err := w.row(ctx, r)
		if err != nil {
			return nil, err
		}
		flat = append(flat, v)
	}
	return &Listing{Flat: flat, PageSize: len(flat)}, nil
}

// requestsByNumber returns the undeleted requests carrying e164 with their
// encoded views, decoded through the document cache where the store hands
// out documents as stored.
func (s *Service) requestsByNumber(ctx context.Context, e164 string) ([]listed, error) {
	var out []listed
	if v, ok := s.store.(RequestDocsByNumber); ok {
		seen := map[string]bool{}
		err := v.VisitRequestDocsByNumber(ctx, e164, func(id, doc []byte) error {
			e, err := s.docs.get(id, doc, true)
			if err != nil {
				// A document Kazoo or a person broke must not fail the lookup.
				s.log.Warn("port request skipped: it does not decode", "request_id", string(id), "error", err)
				return nil
			}
			if e.req == nil || e.req.Deleted || seen[e.req.ID] {
				return nil
			}
			seen[e.req.ID] = true
			out = append(out, listed{req: e.req, view: e.view})
			return nil
		})
		return out, err
	}
	found, err := s.store.RequestsByNumber(ctx, e164)
	if err != nil {
		return nil, err
	}
	for _, r := range found {
		out = append(out, listed{req: r, view: encodeView(r.View())})
	}
	return out, nil
}

// wholeListingCached is how many rows of an unpaginated listing go into the
// document cache.
const wholeListingCached = 200

// wholeListing waits for one of the slots unpaginated listings share.
// Kazoo does not page the working states, so one answer can hold every
// active request of a large reseller's tree (the load tool's 100k data
// set: ~7,900 rows, ~10 MB of JSON, plus the documents read for it). The
// work is CPU-bound, so running more of them at once than there are CPUs
// gains nothing and multiplies the memory held: 16 at once took the heap
// to 1 GB before this bound.
func (s *Service) wholeListing(ctx context.Context) (release func(), err error) {
	select {
	case s.wholeListings <- struct{}{}:
		return func() { <-s.wholeListings }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// listed is a request on its way into a listing, with its encoded view.
type listed struct {
	req  *Request
	view *encodedView
}

// visit reads a listing from the store, decoding through the document
// cache and dropping what is not a live port request (an index may lag
// behind a document). An unpaginated listing caches its first rows only:
// one of thousands (a large tree's working states) would otherwise evict
// everything the paged listings keep reading, for rows nobody asks for
// again soon.
func (s *Service) visit(ctx context.Context, q ListQuery) ([]listed, bool, error) {
	out := make([]listed, 0, max(q.Limit, 16))
	more, err := s.store.VisitRequests(ctx, q, func(id, rev []byte, load func() []byte) error {
		keep := q.Limit > 0 || len(out) < wholeListingCached
		e := s.docs.known(id, rev)
		if e == nil {
			doc := load()
			if doc == nil {
				return nil
			}
			var err error
			if e, err = s.docs.get(id, doc, keep); err != nil {
				return nil // one broken document must not break the listing
			}
		}
		if e.req == nil || e.req.Deleted {
			return nil
		}
		req := e.req
		if !keep {
			// Only what grouping and sorting read: the decoded document
			// goes now, its encoded view stays for the answer.
			req = &Request{ID: req.ID, AccountID: req.AccountID, Modified: req.Modified}
		}
		out = append(out, listed{req: req, view: e.view})
		return nil
	})
	return out, more, err
}

func sortNewestFirst(rs []listed) {
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].req.Modified != rs[j].req.Modified {
			return rs[i].req.Modified > rs[j].req.Modified
		}
		return rs[i].req.ID > rs[j].req.ID
	})
}

// rows builds listing rows: each request's view plus account_id and the
// _read_only block, encoded once per account (and cached with accounts).
type rows struct {
	s     *Service
	extra map[string][]member
}

func (s *Service) newRows() *rows { return &rows{s: s, extra: map[string][]member{}} }

func (w *rows) row(ctx context.Context, l listed) (Row, error) {
	acct := l.req.AccountID
	extra, ok := w.extra[acct]
	if !ok {
		ro, err := w.s.readOnly(ctx, acct)
		if err != nil {
			return Row{}, err
		}
		extra = ro.row
		w.extra[acct] = extra
	}
	return Row{view: l.view, extra: extra}, nil
}

// group arranges rows (newest first) by account, accounts in order of their
// newest row.
func (s *Service) group(ctx context.Context, rs []listed) ([]Group, error) {
	groups := []Group{}
	index := map[string]int{}
	count := map[string]int{}
	for _, l := range rs {
		count[l.req.AccountID]++
	}
	w := s.newRows()
	for _, l := range rs {
		v, err := w.row(ctx, l)
		if err != nil {
			return nil, err
		}
		acct := l.req.AccountID
		i, ok := index[acct]
		if !ok {
			name := ""
			if a, err := s.Account(ctx, acct); err == nil {
				name = a.Name
			}
			groups = append(groups, Group{AccountID: acct, AccountName: name, PortRequests: make([]Row, 0, count[acct])})
			i = len(groups) - 1
			index[acct] = i
		}
		groups[i].PortRequests = append(groups[i].PortRequests, v)
	}
	return groups, nil
}
