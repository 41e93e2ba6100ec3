package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/bolt"
	"github.com/portreqd/portreqd/pkg/engine/couch"
	"github.com/portreqd/portreqd/pkg/kazoo"
	"github.com/portreqd/portreqd/pkg/porting"
)

// store is what run and migrate need of either store.
type store interface {
	porting.Store
	porting.RawStore
	// TouchToken keeps Kazoo 4.0's tokens alive (tokens.KazooStore).
	TouchToken(ctx context.Context, id string, at time.Time) error
}

// isCouchURL tells a CouchDB URL from a data directory.
func isCouchURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// openStore opens Kazoo's databases on CouchDB at a URL (database names
// prefixed with prefix) or on the embedded engine in a directory.
func openStore(ctx context.Context, where, prefix string, log *zap.Logger) (store, string, error) {
	return openStoreWith(ctx, where, prefix, log, func(e engine.Engine) engine.Engine { return e })
}

// openStoreWith is openStore with the engine wrapped by wrap (metrics).
func openStoreWith(ctx context.Context, where, prefix string, log *zap.Logger, wrap func(engine.Engine) engine.Engine) (store, string, error) {
	var (
		eng  engine.Engine
		desc string
		err  error
	)
	couchDB := isCouchURL(where)
	if couchDB {
		desc = "couchdb " + couch.MaskURL(where)
		eng, err = couch.Open(ctx, couch.Options{URL: where, Logger: log, LeaseDB: prefix + "portreqd_leases"})
		if err != nil {
			return nil, "", fmt.Errorf("open CouchDB %s: %w", couch.MaskURL(where), err)
		}
	} else {
		desc = "embedded " + where
		if eng, err = openEmbedded(where, log); err != nil {
			return nil, "", err
		}
	}
	eng = wrap(eng)
	s, err := kazoo.Open(ctx, eng, kazoo.Options{Prefix: prefix, Logger: log, KazooDesigns: couchDB})
	if err != nil {
		_ = eng.Close()
		return nil, "", err
	}
	return s, desc, nil
}

// openEmbedded opens the engine file of data directory dir.
func openEmbedded(dir string, log *zap.Logger) (engine.Engine, error) {
	eng, err := bolt.OpenDir(dir, bolt.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open data directory %s: %w", dir, err)
	}
	return eng, nil
}

// openStoreWaiting is openStore for the server: a CouchDB that does not
// answer yet (still starting, or its network not up) is asked again, with
// each attempt logged, for up to wait. Refused credentials and bad URLs
// fail at once, as does the embedded store.
func openStoreWaiting(ctx context.Context, where, prefix string, wait time.Duration, log *zap.Logger, wrap func(engine.Engine) engine.Engine) (store, string, error) {
	deadline := time.Now().Add(wait)
	pause := time.Second
	for attempt := 1; ; attempt++ {
		st, desc, err := openStoreWith(ctx, where, prefix, log, wrap)
		if err == nil || !isCouchURL(where) || !errors.Is(err, engine.ErrUnavailable) || errors.Is(err, engine.ErrUnauthorized) {
			return st, desc, err
		}
		if time.Now().Add(pause).After(deadline) {
			return nil, "", fmt.Errorf("%w (waited %s; see --store-wait)", err, wait)
		}
		log.Warn("the store does not answer yet; waiting", zap.Int("attempt", attempt), zap.Duration("next_in", pause), zap.Error(err))
		select {
		case <-ctx.Done():
			return nil, "", ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}
