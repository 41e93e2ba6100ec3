package rows

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/portreqd/portreqd/pkg/porting"
)

// Listing is a listing's answer.
type Listing struct {
	// Groups are the rows by account, written as they are read.
	Groups *Groups
	Flat   []Row // by_number answers a flat list instead
	// PageSize is the rows of Flat; a listing by account counts its rows
	// as Groups writes them.
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
	rs, more, err := rd.visit(ctx, q)
	if err != nil {
		return nil, err
	}
	out := &Listing{StartKey: p.StartKey, Paginated: p.Paginated, Groups: rd.groups(actor, rs, q.Limit > 0)}
	if more && len(rs) > 0 {
		last := rs[len(rs)-1]
		out.NextStartKey = porting.NextStartKey(&porting.Request{ID: last.ID, Modified: last.Modified})
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
	var all []porting.ListRow
	for _, q := range p.Queries {
		rs, _, err := rd.visit(ctx, q)
		if err != nil {
			return nil, err
		}
		all = append(all, rs...)
	}
	sortNewestFirst(all)
	return &Listing{Groups: rd.groups(actor, all, false)}, nil
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
	slices.SortStableFunc(mine, func(a, b listed) int { return newestFirst(a.req.Modified, a.req.ID, b.req.Modified, b.req.ID) })
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

// wholeListing waits for one of the slots unpaginated listings share while
// they are written. Kazoo does not page the working states, so one answer
// can hold every active request of a large reseller's tree (the load
// tool's 100k data set: ~7,900 rows, ~10 MB of JSON). The work is
// CPU-bound, so writing more of them at once than there are CPUs gains
// nothing and multiplies the memory held.
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

// visit reads a listing's rows from the index. Rows the index names no
// revision or account for (an index of an older view definition) are
// completed from their documents.
func (rd *Reader) visit(ctx context.Context, q porting.ListQuery) ([]porting.ListRow, bool, error) {
	rs, more, err := rd.store.ListRequests(ctx, q)
	if err != nil {
		return nil, false, err
	}
	var lacking []string
	for _, r := range rs {
		if r.Rev == "" || r.AccountID == "" {
			lacking = append(lacking, r.ID)
		}
	}
	if len(lacking) == 0 {
		return rs, more, nil
	}
	found := map[string]*porting.Request{}
	err = rd.store.RequestDocs(ctx, lacking, func(id string, doc []byte) error {
		if e, err := rd.docs.get([]byte(id), doc, false); err == nil && e.req != nil && !e.req.Deleted {
			found[id] = e.req
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	rs = slices.DeleteFunc(rs, func(r porting.ListRow) bool {
		if r.Rev != "" && r.AccountID != "" {
			return false
		}
		return found[r.ID] == nil
	})
	for i, r := range rs {
		if d := found[r.ID]; d != nil {
			rs[i].Rev, rs[i].AccountID = d.Rev, d.AccountID
		}
	}
	return rs, more, nil
}

func sortNewestFirst(rs []porting.ListRow) {
	slices.SortStableFunc(rs, func(a, b porting.ListRow) int { return newestFirst(a.Modified, a.ID, b.Modified, b.ID) })
}

// newestFirst orders listing rows: newest modified first, then by id
// descending, as the listing views read backwards give them.
func newestFirst(am int64, aid string, bm int64, bid string) int {
	if c := cmp.Compare(bm, am); c != 0 {
		return c
	}
	return strings.Compare(bid, aid)
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
