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

// masterWait bounds how long a site that replicates from others waits at
// its first start for the master account another site already has.
const masterWait = 2 * time.Minute

// awaitMaster keeps a site that replicates with others from making a
// master account of its own when another site has one: it waits (bounded
// by masterWait, logged) until replication brings that master here, so
// that every site has one master with one key. A site whose peers have no
// master, or do not answer, makes its own after the wait; if two sites
// did, the earlier master stands once they replicate
// (porting.LastModifiedLeaf).
func awaitMaster(ctx context.Context, store porting.Store, peers porting.Peers, log *zap.Logger) error {
	if peers == nil {
		return nil
	}
	if _, err := store.MasterAccount(ctx); !porting.IsKind(err, porting.KindNotFound) {
		return nil // here already, or the store fails: Bootstrap reports it
	}
	ps, err := peers(ctx)
	if err != nil || len(ps) == 0 {
		return nil
	}
	elsewhere := ""
	for _, p := range ps {
		m, ok := p.(interface {
			Master(ctx context.Context) (*porting.Account, error)
		})
		if !ok {
			continue
		}
		if _, err := m.Master(ctx); err == nil || !porting.IsKind(err, porting.KindNotFound) {
			elsewhere = p.Name() // has one, or cannot say: wait for it
			break
		}
	}
	if elsewhere == "" {
		return nil
	}
	log.Info("waiting for the master account to replicate from another site", zap.String("site", elsewhere), zap.Duration("at_most", masterWait))
	deadline := time.Now().Add(masterWait)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		if _, err := store.MasterAccount(ctx); err == nil {
			log.Info("master account replicated from another site")
			return nil
		}
	}
	log.Warn("no master account replicated in time: this site makes its own; the earlier master stands once the sites replicate, so give every site the same --master-api-key",
		zap.String("site", elsewhere), zap.Duration("waited", masterWait))
	return nil
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
