package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/couch"
	"github.com/portreqd/portreqd/pkg/kazoo"
	"github.com/portreqd/portreqd/pkg/porting"
)

// siteOf names this site and lists the others, when portreqd runs on a
// CouchDB that replicates with other sites (porting/sites.go): claims
// carry the site's name, and a completion asks every other site first.
// The embedded store replicates with no one: no site, no peers.
func siteOf(ctx context.Context, cfg *config, store any, log *zap.Logger) (string, porting.Peers, error) {
	s, ok := store.(*kazoo.Store)
	if !ok || cfg.couchdb == "" {
		return "", nil, nil
	}
	site, err := s.SiteID(ctx, porting.RandomID)
	if err != nil {
		return "", nil, fmt.Errorf("name this site: %w", err)
	}
	log.Info("site", zap.String("site", site))
	peers := s.Peers(func(ctx context.Context, url string) (engine.Engine, error) {
		return couch.Open(ctx, couch.Options{URL: url, Logger: log.Named("peer")})
	})
	return site, peers, nil
}

// conflictWatcher is a store that resolves the conflicts replication
// between sites brings (kazoo.Store on CouchDB).
type conflictWatcher interface {
	WatchConflicts(ctx context.Context, cw kazoo.ConflictWatch) error
}

// conflictSettle is how long a conflict must last before it is resolved:
// longer than a cluster takes to settle racing writes itself (a lease is
// taken over after 9 s).
const conflictSettle = 15 * time.Second

// watchConflicts resolves conflicted port requests and accounts as
// CouchDB reports them, until ctx ends; a feed that fails is started again
// after a pause that grows to a minute. Several replicas may run it at
// once: their resolutions are the same writes.
func watchConflicts(ctx context.Context, w conflictWatcher, svc *porting.Service, log *zap.Logger) {
	pause := time.Second
	for ctx.Err() == nil {
		err := w.WatchConflicts(ctx, kazoo.ConflictWatch{Settle: conflictSettle, ReconcileClaim: svc.ReconcileClaim, Report: func(r kazoo.ConflictReport) {
			switch {
			case r.Err != nil:
				log.Warn("conflict not resolved yet", zap.String("db", r.DB), zap.String("id", r.ID), zap.Error(r.Err))
			case r.Merged != nil:
				log.Warn("port request conflict resolved", zap.String("request_id", r.ID), zap.String("state", string(r.Merged.State)),
					zap.String("base", r.Merged.Base), zap.String("note", r.Merged.Note))
			case len(r.Rejected) > 0:
				log.Warn("number claimed at two sites: the earliest claim stands, this site's later requests are rejected",
					zap.String("number", r.ID), zap.Strings("rejected", r.Rejected))
			default:
				log.Warn("account conflict resolved: the last write stands", zap.String("account_id", r.ID), zap.String("dropped", r.Dropped))
			}
		}})
		if ctx.Err() != nil {
			return
		}
		log.Warn("conflict watcher stopped; starting it again", zap.Error(err), zap.Duration("in", pause))
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Minute)
	}
}

// checkSites refuses to start without --token-secret on a CouchDB that
// replicates portreqd's databases from other sites (portreqd replicate): a
// token issued at one site must be accepted at the others, which a random
// per-process secret cannot do.
func checkSites(ctx context.Context, cfg *config, store any) error {
	r, ok := store.(interface {
		ReplicatedFromSites(ctx context.Context) (bool, error)
	})
	if !ok || cfg.couchdb == "" || cfg.tokenSecret != "" {
		return nil
	}
	replicated, err := r.ReplicatedFromSites(ctx)
	if err != nil {
		return fmt.Errorf("read the replications of %s: %w", couch.MaskURL(cfg.couchdb), err)
	}
	if replicated {
		return errors.New("this CouchDB replicates portreqd's databases from other sites (portreqd replicate): give --token-secret, the same on every site")
	}
	return nil
}
