// Package accountcache is the porting.AccountCache portreqd runs with:
// accounts and their _read_only blocks kept for a short time (a TTL), and
// concurrent misses on one account sharing one store read.
//
// Every API call needs the caller's and the target's tree and name;
// without the cache one call would cost several store round trips. The
// load tool counted a third to a half of an extra account read per listing
// at 16 clients on CouchDB before misses shared their read. A write through
// this replica drops every _read_only block at once; one through another
// replica or site drops the account and the blocks as soon as the
// accounts' _changes feed reports it (Changed), and, should the feed be
// down, shows within twice the TTL (a block may be built from accounts
// cached a TTL ago, and lives a TTL).
package accountcache

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/portreqd/portreqd/pkg/porting"
)

// maxEntries bounds each map; past it, expired entries go, and if none
// has expired, all of them (a cache, not a store: misses cost one read).
const maxEntries = 10000

// Cache keeps accounts and _read_only blocks for ttl. It is safe for
// concurrent use.
type Cache struct {
	ttl   time.Duration
	now   func() time.Time
	loads singleflight.Group
	// hits and misses count Account's answers, for Stats.
	hits, misses atomic.Uint64

	mu sync.Mutex
	// written counts writes: a read that started before one may carry the
	// older account, so its answer is not kept.
	written  uint64
	entries  map[string]entry
	readOnly map[string]readOnlyEntry
}

type entry struct {
	acct    porting.Account
	expires time.Time
}

type readOnlyEntry struct {
	ro      json.RawMessage
	expires time.Time
}

// New returns a cache keeping entries for ttl, read on clock now (nil:
// time.Now).
func New(ttl time.Duration, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{ttl: ttl, now: now, entries: map[string]entry{}, readOnly: map[string]readOnlyEntry{}}
}

var _ porting.AccountCache = (*Cache)(nil)

// Account returns account id while it is fresh, else reads it with read:
// callers missing on one id together share the first one's read. A caller
// whose context ends stops waiting; one still waiting when the reader's
// context ended reads again for itself. Each caller gets its own copy.
func (c *Cache) Account(ctx context.Context, id string, read func(context.Context, string) (*porting.Account, error)) (*porting.Account, error) {
	if a, ok := c.get(id); ok {
		c.hits.Add(1)
		return a, nil
	}
	c.misses.Add(1)
	ch := c.loads.DoChan(id, func() (any, error) {
		c.mu.Lock()
		written := c.written
		c.mu.Unlock()
		a, err := read(ctx, id)
		if err == nil {
			c.mu.Lock()
			if c.written == written {
				c.putLocked(a)
			}
			c.mu.Unlock()
		}
		return a, err
	})
	select {
	case res := <-ch:
		if res.Err == nil {
			a := *res.Val.(*porting.Account)
			return &a, nil
		}
		if ctx.Err() == nil && (errors.Is(res.Err, context.Canceled) || errors.Is(res.Err, context.DeadlineExceeded)) {
			// The reader gave up with its own request; read for this one.
			return read(ctx, id)
		}
		return nil, res.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *Cache) get(id string) (*porting.Account, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok || c.now().After(e.expires) {
		return nil, false
	}
	a := e.acct
	return &a, true
}

// Read keeps an account just read from the store.
func (c *Cache) Read(a *porting.Account) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(a)
}

// Written keeps an account just written. Reads in flight may carry the
// old one: later callers read again, and those reads' answers are not
// kept; _read_only blocks may name it, so all of them are dropped.
func (c *Cache) Written(a *porting.Account) {
	c.loads.Forget(a.ID)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.written++
	clear(c.readOnly)
	c.putLocked(a)
}

// Changed drops account id, which changed in the store (another replica
// or site wrote it: the accounts' _changes feed says so), and every
// _read_only block, which may name it; reads in flight are not kept.
func (c *Cache) Changed(id string) {
	c.loads.Forget(id)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.written++
	delete(c.entries, id)
	clear(c.readOnly)
}

// Flush drops everything: the changes feed that keeps the cache coherent
// was down, and what changed meanwhile is unknown.
func (c *Cache) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.written++
	for id := range c.entries {
		c.loads.Forget(id)
	}
	clear(c.entries)
	clear(c.readOnly)
}

func (c *Cache) putLocked(a *porting.Account) {
	if len(c.entries) >= maxEntries {
		now := c.now()
		for k, e := range c.entries {
			if now.After(e.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= maxEntries {
			clear(c.entries)
		}
	}
	c.entries[a.ID] = entry{acct: *a, expires: c.now().Add(c.ttl)}
}

// ReadOnly returns the _read_only block kept for account id while fresh.
func (c *Cache) ReadOnly(id string) (json.RawMessage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.readOnly[id]
	if !ok || c.now().After(e.expires) {
		return nil, false
	}
	return e.ro, true
}

// PutReadOnly keeps a _read_only block built from accounts read no earlier
// than built, so it expires when they would.
func (c *Cache) PutReadOnly(id string, ro json.RawMessage, built time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.readOnly) >= maxEntries {
		clear(c.readOnly)
	}
	c.readOnly[id] = readOnlyEntry{ro: ro, expires: built.Add(c.ttl)}
}

// Stats counts Account's answers since New: from the cache (Hits) or read
// from the store (Misses, whether or not the read was shared). Operators
// watch the ratio to size the TTL; reading it costs two atomic loads.
type Stats struct {
	Hits, Misses uint64
}

// Stats returns the counts so far.
func (c *Cache) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load()}
}
