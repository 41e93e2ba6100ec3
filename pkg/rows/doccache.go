package rows

import (
	"bytes"
	"sync"
	"sync/atomic"

	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/requestjson"
)

// docCache keeps port requests decoded from their stored bytes, with their
// views encoded, for the read paths (GET one, listings). An entry is used
// only for a document byte for byte equal to the one it was decoded from,
// or, where the store checks revisions (porting.Store.GetRequestDocUnlessRev: CouchDB's
// If-None-Match), once the store has confirmed that the entry's revision is
// the current one. So it can never be stale, whichever replica or process
// wrote the document, and nothing needs invalidating: a changed document is
// a miss, and its entry is replaced.
//
// Entries are shared between callers and never modified: only read paths
// use them. Writes decode their own copy from the store.
type docCache struct {
	max int // bytes kept, roughly
	// hits count reads answered by an entry; misses, documents decoded.
	hits, misses atomic.Uint64

	mu      sync.Mutex
	entries map[string]*cachedDoc // by document id
	size    int
}

type cachedDoc struct {
	raw  []byte
	req  *porting.Request // nil: not a port request
	view *encodedView
	// public is the view without private comments, for readers who may
	// not see them; nil when the request has none.
	public *encodedView
	cost   int
}

// viewFor is the view a reader sees: with the private comments when sees.
func (e *cachedDoc) viewFor(sees bool) *encodedView {
	if e.public != nil && !sees {
		return e.public
	}
	return e.view
}

// DefaultDocCacheBytes bounds the decoded-document cache: about 3,600
// typical port requests (a 10-number request, ~1 KB stored, holds ~4.4 KB
// of heap as stored bytes, decoded request and encoded view, measured with
// runtime.MemStats). Listings ask for the newest rows again and again, so
// a few thousand entries serve them; one-off reads across a large store
// gain little from more, and the heap (which the collector lets grow to
// twice what is live) would.
const DefaultDocCacheBytes = 16 << 20

func newDocCache(maxBytes int) *docCache {
	return &docCache{max: maxBytes, entries: map[string]*cachedDoc{}}
}

// known returns the entry for document id at revision rev, if cached; nil
// for a nil rev.
func (c *docCache) known(id, rev []byte) *cachedDoc {
	if rev == nil {
		return nil
	}
	c.mu.Lock()
	e, ok := c.entries[string(id)]
	c.mu.Unlock()
	if !ok || e.req == nil || e.req.Rev != string(rev) {
		return nil // the caller reads the document and counts it in get
	}
	c.hits.Add(1)
	return e
}

// latest returns the entry cached for port request id, whatever its
// revision (the caller checks that revision with the store, and counts
// it with confirmed); nil if none.
func (c *docCache) latest(id string) *cachedDoc {
	c.mu.Lock()
	e := c.entries[id]
	c.mu.Unlock()
	if e == nil || e.req == nil || e.req.Rev == "" {
		return nil
	}
	return e
}

// get returns the entry for document id stored as raw, decoding it on a
// miss, and keeping the new entry only when keep is set. Neither slice is
// kept.
func (c *docCache) get(id, raw []byte, keep bool) (*cachedDoc, error) {
	c.mu.Lock()
	e, ok := c.entries[string(id)]
	c.mu.Unlock()
	if ok && bytes.Equal(e.raw, raw) {
		c.hits.Add(1)
		return e, nil
	}
	c.misses.Add(1)
	r, err := requestjson.Decode(raw)
	if err != nil {
		return nil, err
	}
	e = &cachedDoc{raw: bytes.Clone(raw), req: r}
	if r != nil {
		e.view = encodeView(r.View())
		if r.HasPrivateComments() {
			e.public = encodeView(r.PublicView())
		}
	}
	if c.max <= 0 || !keep {
		return e, nil
	}
	// Calibrated against runtime.MemStats: stored bytes twice (the entry's
	// copy, and the decoded request's values), maps and slices of the
	// decoded request, the encoded view.
	e.cost = 2*len(raw) + len(id) + 1024
	for _, v := range []*encodedView{e.view, e.public} {
		if v != nil {
			e.cost += v.size + 96*len(v.members)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	key := string(id)
	if old, ok := c.entries[key]; ok {
		c.size -= old.cost
	}
	c.entries[key] = e
	c.size += e.cost
	if c.size > c.max {
		// Drop entries in map order (random) down to three quarters: cheap,
		// and fair enough to a cache whose misses cost one decode.
		for k, old := range c.entries {
			if c.size <= c.max*3/4 {
				break
			}
			delete(c.entries, k)
			c.size -= old.cost
		}
	}
	return e, nil
}

// confirmed counts a hit on an entry from latest whose revision the store
// confirmed current.
func (c *docCache) confirmed() { c.hits.Add(1) }

// DocCacheStats counts the document cache's answers since New: Hits are
// reads served by a decoded entry, Misses documents decoded (a disabled
// cache misses every time). Reading it costs two atomic loads.
type DocCacheStats struct {
	Hits, Misses uint64
}

// DocCacheStats returns the counts so far.
func (rd *Reader) DocCacheStats() DocCacheStats {
	return DocCacheStats{Hits: rd.docs.hits.Load(), Misses: rd.docs.misses.Load()}
}
