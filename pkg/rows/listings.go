package rows

import (
	"context"
	"slices"
	"sort"

	"github.com/portreqd/portreqd/pkg/porting"
)

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

// ListState lists the requests of one state through account accountID.
func (rd *Reader) ListState(ctx context.Context, actor *porting.Account, accountID string, state porting.State, o porting.ListOptions) (*Listing, error) {
	p, err := rd.svc.PlanListState(ctx, actor, accountID, state, o)
	if err != nil {
		return nil, err
	}
	q := p.Queries[0]
	if q.Limit == 0 {
		release, err := rd.wholeListing(ctx)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	rs, more, err := rd.visit(ctx, q)
	if err != nil {
		return nil, err
	}
	out := &Listing{PageSize: len(rs), StartKey: p.StartKey, Paginated: p.Paginated}
	if out.Groups, err = rd.group(ctx, actor, rs); err != nil {
		return nil, err
	}
	if more && len(rs) > 0 {
		out.NextStartKey = porting.NextStartKey(rs[len(rs)-1].req)
	}
	return out, nil
}

// ListAll is the all-states listing (porting.Service.PlanListAll), newest
// first.
func (rd *Reader) ListAll(ctx context.Context, actor *porting.Account, accountID string, o porting.ListOptions) (*Listing, error) {
	p, err := rd.svc.PlanListAll(ctx, actor, accountID, o)
	if err != nil {
		return nil, err
	}
	return rd.merged(ctx, actor, p)
}

// ListTypes is a by_types listing (porting.Service.PlanListTypes), newest
// first.
func (rd *Reader) ListTypes(ctx context.Context, actor *porting.Account, accountID string, states []porting.State, o porting.ListOptions) (*Listing, error) {
	p, err := rd.svc.PlanListTypes(ctx, actor, accountID, states, o)
	if err != nil {
		return nil, err
	}
	return rd.merged(ctx, actor, p)
}

// AgentQueue is the port authority's queue (porting.Service.PlanAgentQueue),
// newest first.
func (rd *Reader) AgentQueue(ctx context.Context, actor *porting.Account, states []porting.State, o porting.ListOptions) (*Listing, error) {
	p, err := rd.svc.PlanAgentQueue(ctx, actor, states, o)
	if err != nil {
		return nil, err
	}
	return rd.merged(ctx, actor, p)
}

// merged answers every query of p whole, rows merged newest first.
func (rd *Reader) merged(ctx context.Context, actor *porting.Account, p porting.ListPlan) (*Listing, error) {
	release, err := rd.wholeListing(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	var all []listed
	for _, q := range p.Queries {
		rs, _, err := rd.visit(ctx, q)
		if err != nil {
			return nil, err
		}
		all = append(all, rs...)
	}
	sortNewestFirst(all)
	groups, err := rd.group(ctx, actor, all)
	if err != nil {
		return nil, err
	}
	return &Listing{Groups: groups, PageSize: len(all)}, nil
}

// ByNumber lists the requests carrying a number, visible through accountID
// (its own only, or with descendants its whole subtree), as a flat list.
func (rd *Reader) ByNumber(ctx context.Context, actor *porting.Account, accountID, number string, descendants bool) (*Listing, error) {
	e164, err := rd.svc.PlanByNumber(ctx, actor, accountID, number)
	if err != nil {
		return nil, err
	}
	mine, err := rd.requestsByNumber(ctx, e164)
	if err != nil {
		return nil, err
	}
	mine = slices.DeleteFunc(mine, func(l listed) bool { return !l.req.ListedThrough(accountID, descendants) })
	sortNewestFirst(mine)
	flat := make([]Row, 0, len(mine))
	w := rd.newRows(actor)
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
// encoded views, decoded through the document cache.
func (rd *Reader) requestsByNumber(ctx context.Context, e164 string) ([]listed, error) {
	var out []listed
	seen := map[string]bool{}
	err := rd.store.VisitRequestDocsByNumber(ctx, e164, func(id, doc []byte) error {
		e, err := rd.docs.get(id, doc, true)
		if err != nil {
			// A document Kazoo or a person broke must not fail the lookup.
			rd.log.Warn("port request skipped: it does not decode", "request_id", string(id), "error", err)
			return nil
		}
		if e.req == nil || e.req.Deleted || seen[e.req.ID] {
			return nil
		}
		seen[e.req.ID] = true
		out = append(out, listedOf(e.req, e))
		return nil
	})
	return out, err
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
func (rd *Reader) wholeListing(ctx context.Context) (release func(), err error) {
	select {
	case rd.wholeListings <- struct{}{}:
		return func() { <-rd.wholeListings }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// listed is a request on its way into a listing, with its encoded views
// (public: without private comments, nil when it has none) and the port
// authority its document names.
type listed struct {
	req       *porting.Request
	view      *encodedView
	public    *encodedView
	authority string
}

func listedOf(req *porting.Request, e *cachedDoc) listed {
	return listed{req: req, view: e.view, public: e.public, authority: e.req.DocAuthority()}
}

// visit reads a listing from the store, decoding through the document
// cache and dropping what is not a live port request (an index may lag
// behind a document). An unpaginated listing caches its first rows only:
// one of thousands (a large tree's working states) would otherwise evict
// everything the paged listings keep reading, for rows nobody asks for
// again soon.
func (rd *Reader) visit(ctx context.Context, q porting.ListQuery) ([]listed, bool, error) {
	out := make([]listed, 0, max(q.Limit, 16))
	more, err := rd.store.VisitRequests(ctx, q, func(id, rev []byte, load func() []byte) error {
		keep := q.Limit > 0 || len(out) < wholeListingCached
		e := rd.docs.known(id, rev)
		if e == nil {
			doc := load()
			if doc == nil {
				return nil
			}
			var err error
			if e, err = rd.docs.get(id, doc, keep); err != nil {
				// One broken document must not break the listing.
				rd.log.Warn("port request skipped: it does not decode", "request_id", string(id), "error", err)
				return nil
			}
		}
		if e.req == nil || e.req.Deleted {
			return nil
		}
		req := e.req
		if !keep {
			// Only what grouping and sorting read: the decoded document
			// goes now, its encoded view stays for the answer.
			req = &porting.Request{ID: req.ID, AccountID: req.AccountID, Modified: req.Modified}
		}
		out = append(out, listedOf(req, e))
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

// rowBuilder builds listing rows for actor: each request's view (without
// private comments unless actor sees them) plus account_id and the
// _read_only block, encoded once per account.
type rowBuilder struct {
	rd    *Reader
	actor *porting.Account
	extra map[[2]string][]member // by account and the authority the document names
	sees  map[[2]string]bool     // likewise
}

func (rd *Reader) newRows(actor *porting.Account) *rowBuilder {
	return &rowBuilder{rd: rd, actor: actor, extra: map[[2]string][]member{}, sees: map[[2]string]bool{}}
}

func (w *rowBuilder) row(ctx context.Context, l listed) (Row, error) {
	acct := l.req.AccountID
	key := [2]string{acct, l.authority}
	extra, ok := w.extra[key]
	if !ok {
		var err error
		if extra, err = w.rd.readOnly(ctx, acct, l.authority, true); err != nil {
			return Row{}, err
		}
		w.extra[key] = extra
	}
	v := l.view
	if l.public != nil {
		sees, ok := w.sees[key]
		if !ok {
			var err error
			if sees, err = w.rd.svc.SeesPrivateComments(ctx, w.actor, acct, l.authority); err != nil {
				return Row{}, err
			}
			w.sees[key] = sees
		}
		if !sees {
			v = l.public
		}
	}
	return Row{view: v, extra: extra}, nil
}

// group arranges rows (newest first) by account, accounts in order of their
// newest row.
func (rd *Reader) group(ctx context.Context, actor *porting.Account, rs []listed) ([]Group, error) {
	groups := []Group{}
	index := map[string]int{}
	count := map[string]int{}
	for _, l := range rs {
		count[l.req.AccountID]++
	}
	w := rd.newRows(actor)
	for _, l := range rs {
		v, err := w.row(ctx, l)
		if err != nil {
			return nil, err
		}
		acct := l.req.AccountID
		i, ok := index[acct]
		if !ok {
			name := ""
			if a, err := rd.svc.Account(ctx, acct); err == nil {
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
