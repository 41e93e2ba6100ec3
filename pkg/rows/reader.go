// Package rows answers the API's reads of port requests (GET one, the
// listings, by_number) as rows: each request's view encoded once, with its
// members sorted, plus the members that depend on more than the document
// (_read_only, and account_id in listings), merged in when the answer is
// written. Documents are decoded through a cache shared by every read, so
// a page the clients ask for again and again costs a comparison and a copy
// per row. What a read may see, and which rows a listing holds, are
// porting's rules: a Reader asks the porting.Service before it reads.
package rows

import (
	"context"
	"log/slog"
	"runtime"
	"sync"

	"github.com/portreqd/portreqd/pkg/porting"
)

// Reader reads port requests as the API shows them.
type Reader struct {
	store porting.Store
	svc   *porting.Service
	docs  *docCache
	log   *slog.Logger
	// wholeListings holds a token per unpaginated listing running.
	wholeListings chan struct{}

	mu        sync.Mutex
	readOnlys map[string]readOnlyEntry // by account id and the port authority the documents name
}

// Config wires a Reader.
type Config struct {
	// Store is the store Service runs on.
	Store   porting.Store
	Service *porting.Service
	// DocCacheBytes bounds the cache of decoded port requests the reads
	// share; zero means DefaultDocCacheBytes, negative disables it.
	DocCacheBytes int
	// Log receives what a read cannot report to its caller: documents
	// skipped because they do not decode. nil discards it.
	Log *slog.Logger
}

// New returns a Reader.
func New(cfg Config) *Reader {
	if cfg.DocCacheBytes == 0 {
		cfg.DocCacheBytes = DefaultDocCacheBytes
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Reader{
		store:         cfg.Store,
		svc:           cfg.Service,
		docs:          newDocCache(cfg.DocCacheBytes),
		log:           cfg.Log,
		wholeListings: make(chan struct{}, runtime.GOMAXPROCS(0)),
		readOnlys:     map[string]readOnlyEntry{},
	}
}

// View is request r (one just written) as the API shows it to actor, with
// Kazoo 4.3's _read_only block naming the owning account and its port
// authority.
func (rd *Reader) View(ctx context.Context, actor *porting.Account, r *porting.Request) (Row, error) {
	v := r.View()
	if r.HasPrivateComments() {
		sees, err := rd.svc.SeesPrivateComments(ctx, actor, r.AccountID, r.DocAuthority())
		if err != nil {
			return Row{}, err
		}
		if !sees {
			v = r.PublicView()
		}
	}
	return rd.viewRow(ctx, r, encodeView(v))
}

func (rd *Reader) viewRow(ctx context.Context, r *porting.Request, v *encodedView) (Row, error) {
	ro, err := rd.readOnly(ctx, r.AccountID, r.DocAuthority(), false)
	if err != nil {
		return Row{}, err
	}
	return Row{view: v, extra: ro}, nil
}

// Get reads request id through account accountID as the API shows it, and
// its revision. It is porting.Service.GetRequest for answering only: the
// document is decoded through the cache the listings share.
func (rd *Reader) Get(ctx context.Context, actor *porting.Account, accountID, id string) (Row, string, error) {
	if err := rd.svc.AuthorizeRead(ctx, actor, accountID, id); err != nil {
		return Row{}, "", err
	}
	e, err := rd.readRequestDoc(ctx, id)
	if err != nil {
		return Row{}, "", err
	}
	if e.req == nil || !e.req.Readable(accountID) {
		return Row{}, "", porting.NotFound(id)
	}
	sees := true
	if e.public != nil {
		if sees, err = rd.svc.SeesPrivateComments(ctx, actor, e.req.AccountID, e.req.DocAuthority()); err != nil {
			return Row{}, "", err
		}
	}
	row, err := rd.viewRow(ctx, e.req, e.viewFor(sees))
	return row, e.req.Rev, err
}

// readRequestDoc reads request id through the document cache. When the
// cache holds the request, the store only confirms that the cached
// revision is still the current one (no document is sent again);
// otherwise the document is read and decoded through the cache.
func (rd *Reader) readRequestDoc(ctx context.Context, id string) (*cachedDoc, error) {
	if old := rd.docs.latest(id); old != nil {
		raw, unchanged, err := rd.store.GetRequestDocUnlessRev(ctx, id, old.req.Rev)
		if err != nil {
			return nil, err
		}
		if unchanged {
			rd.docs.confirmed()
			return old, nil
		}
		return rd.docs.get([]byte(id), raw, true)
	}
	raw, err := rd.store.GetRequestDoc(ctx, id)
	if err != nil {
		return nil, err
	}
	return rd.docs.get([]byte(id), raw, true)
}

// readOnly is the _read_only block of the requests of account accountID
// whose documents name the port authority docAuthority (mostly "", or the
// account's) as the members their rows add (readOnlyMembers), for a
// listing or a view. The members are kept while the account cache hands
// out the same block, the same bytes, so a page adds no allocation for
// them; a block built again (expired, or an account written) is a new
// slice.
func (rd *Reader) readOnly(ctx context.Context, accountID, docAuthority string, listing bool) ([]member, error) {
	raw, err := rd.svc.ReadOnlyFor(ctx, accountID, docAuthority)
	if err != nil {
		return nil, err
	}
	pick := func(e readOnlyEntry) []member {
		if listing {
			return e.row
		}
		return e.view
	}
	key := accountID + "/" + docAuthority
	rd.mu.Lock()
	e, ok := rd.readOnlys[key]
	rd.mu.Unlock()
	if ok && len(raw) > 0 && e.raw == &raw[0] && e.n == len(raw) {
		return pick(e), nil
	}
	e.view, e.row = readOnlyMembers(accountID, raw)
	if len(raw) > 0 {
		e.raw, e.n = &raw[0], len(raw) // held: the bytes cannot be reused for another block
		rd.mu.Lock()
		if len(rd.readOnlys) >= maxReadOnlys {
			clear(rd.readOnlys)
		}
		rd.readOnlys[key] = e
		rd.mu.Unlock()
	}
	return pick(e), nil
}

// readOnlyEntry is the members built from the _read_only block of n bytes
// whose first byte is raw.
type readOnlyEntry struct {
	raw       *byte
	n         int
	view, row []member
}

// maxReadOnlys bounds the accounts whose members are kept.
const maxReadOnlys = 10000
