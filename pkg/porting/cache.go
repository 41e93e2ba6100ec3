package porting

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/portreqd/portreqd/pkg/rawjson"
)

// accountCache keeps accounts for a short time. Every API call needs the
// caller's and the target's tree and name; without the cache one call would
// cost several store round trips. Entries are copies, so callers may not
// mutate what the cache holds.
//
// Concurrent misses on one account share one store read (the load tool
// counted a third to a half of an extra account read per listing at 16
// clients on CouchDB without this). The cache also keeps each account's
// _read_only block (its name and its port authority's): a write through
// this replica drops every block at once; one through another replica shows
// within twice the TTL (a block may be built from accounts cached a TTL
// ago, and lives a TTL).
type accountCache struct {
	ttl time.Duration
	now Clock

	mu       sync.Mutex
	entries  map[string]cachedAccount
	loading  map[string]*accountLoad
	readOnly map[string]cachedReadOnly
}

type cachedAccount struct {
	acct    Account
	expires time.Time
}

type cachedReadOnly struct {
	ro      *readOnlyBlock
	expires time.Time
}

// readOnlyBlock is an account's _read_only block, and the members rows
// of its requests add, encoded once.
type readOnlyBlock struct {
	view []member // _read_only
	row  []member // _read_only, account_id (listings)
}

func newReadOnlyBlock(accountID string, ro json.RawMessage) *readOnlyBlock {
	m := member{key: "_read_only", enc: appendMember(nil, "_read_only", ro)}
	// Sorted: "_read_only" < "account_id".
	return &readOnlyBlock{view: []member{m}, row: []member{m,
		{key: "account_id", enc: appendMember(nil, "account_id", rawjson.AppendString(nil, accountID))}}}
}

// accountLoad is a store read other callers wait for.
type accountLoad struct {
	done chan struct{}
	acct *Account
	err  error
}

const accountCacheMax = 10000

func newAccountCache(ttl time.Duration, now Clock) *accountCache {
	return &accountCache{ttl: ttl, now: now, entries: map[string]cachedAccount{},
		loading: map[string]*accountLoad{}, readOnly: map[string]cachedReadOnly{}}
}

func (c *accountCache) get(id string) (*Account, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok || c.now().After(e.expires) {
		return nil, false
	}
	a := e.acct
	return &a, true
}

// load reads account id with fetch, or waits for the read another caller
// started, and caches the answer.
func (c *accountCache) load(ctx context.Context, id string, fetch func(context.Context, string) (*Account, error)) (*Account, error) {
	c.mu.Lock()
	if l, ok := c.loading[id]; ok {
		c.mu.Unlock()
		select {
		case <-l.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if l.err == nil {
			a := *l.acct
			return &a, nil
		}
		if !errors.Is(l.err, context.Canceled) && !errors.Is(l.err, context.DeadlineExceeded) {
			return nil, l.err
		}
		// The reader gave up with its own request; read for this one.
		return fetch(ctx, id)
	}
	l := &accountLoad{done: make(chan struct{})}
	c.loading[id] = l
	c.mu.Unlock()

	l.acct, l.err = fetch(ctx, id)
	c.mu.Lock()
	if c.loading[id] == l {
		delete(c.loading, id)
		if l.err == nil {
			c.putLocked(l.acct)
		}
	}
	c.mu.Unlock()
	close(l.done)
	if l.err != nil {
		return nil, l.err
	}
	a := *l.acct
	return &a, nil
}

// put caches an account just read.
func (c *accountCache) put(a *Account) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(a)
}

// changed caches an account just written: reads in flight may carry the
// old one, and _read_only blocks may name it, so both are dropped.
func (c *accountCache) changed(a *Account) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.loading, a.ID)
	clear(c.readOnly)
	c.putLocked(a)
}

func (c *accountCache) putLocked(a *Account) {
	if len(c.entries) >= accountCacheMax {
		now := c.now()
		for k, e := range c.entries {
			if now.After(e.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= accountCacheMax {
			c.entries = map[string]cachedAccount{}
		}
	}
	c.entries[a.ID] = cachedAccount{acct: *a, expires: c.now().Add(c.ttl)}
}

func (c *accountCache) getReadOnly(id string) (*readOnlyBlock, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.readOnly[id]
	if !ok || c.now().After(e.expires) {
		return nil, false
	}
	return e.ro, true
}

// putReadOnly keeps a _read_only block built from accounts read no earlier
// than built, so it expires when they would.
func (c *accountCache) putReadOnly(id string, ro *readOnlyBlock, built time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.readOnly) >= accountCacheMax {
		clear(c.readOnly)
	}
	c.readOnly[id] = cachedReadOnly{ro: ro, expires: built.Add(c.ttl)}
}
