package porting

import (
	"context"
	"encoding/json"
	"time"
)

// AccountCache keeps, for a short time, the accounts every API call reads
// (the caller's and the target's tree and name) and the _read_only blocks
// built from them: without one, one call costs several store round trips.
// The Service tells it of every account it reads fresh or writes. A
// Service configured without one (Config.Accounts nil) reads the store
// every time; package accountcache is the one portreqd runs with.
type AccountCache interface {
	// Account returns account id, calling read on a miss; concurrent
	// misses may share one read. The result may be shared: callers must
	// not modify it.
	Account(ctx context.Context, id string, read func(context.Context, string) (*Account, error)) (*Account, error)
	// Read keeps an account just read from the store.
	Read(a *Account)
	// Written keeps an account just written through this Service: reads
	// in flight may carry the older one, and _read_only blocks may name
	// it, so both are dropped.
	Written(a *Account)
	// ReadOnly returns the _read_only block kept for account id.
	ReadOnly(id string) (json.RawMessage, bool)
	// PutReadOnly keeps the _read_only block of account id, built from
	// accounts read no earlier than built: it expires when they would.
	PutReadOnly(id string, ro json.RawMessage, built time.Time)
}

// noAccountCache is the AccountCache of a Service configured without one.
type noAccountCache struct{}

func (noAccountCache) Account(ctx context.Context, id string, read func(context.Context, string) (*Account, error)) (*Account, error) {
	return read(ctx, id)
}
func (noAccountCache) Read(*Account)                                  {}
func (noAccountCache) Written(*Account)                               {}
func (noAccountCache) ReadOnly(string) (json.RawMessage, bool)        { return nil, false }
func (noAccountCache) PutReadOnly(string, json.RawMessage, time.Time) {}
