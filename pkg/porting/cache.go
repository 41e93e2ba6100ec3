package porting

import (
	"sync"
	"time"
)

// accountCache keeps accounts for a short time. Every API call needs the
// caller's and the target's tree and name; without the cache one call would
// cost several store round trips. Entries are copies, so callers may not
// mutate what the cache holds.
type accountCache struct {
	ttl time.Duration
	now Clock

	mu      sync.Mutex
	entries map[string]cachedAccount
}

type cachedAccount struct {
	acct    Account
	expires time.Time
}

const accountCacheMax = 10000

func newAccountCache(ttl time.Duration, now Clock) *accountCache {
	return &accountCache{ttl: ttl, now: now, entries: map[string]cachedAccount{}}
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

func (c *accountCache) put(a *Account) {
	c.mu.Lock()
	defer c.mu.Unlock()
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

func (c *accountCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, id)
}
