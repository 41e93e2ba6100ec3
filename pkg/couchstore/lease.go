package couchstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	mrand "math/rand/v2"
	"net/http"
	"time"

	kivik "github.com/go-kivik/kivik/v4"
	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/porting"
)

// On a cluster, portreqd processes update a document one at a time: each
// holds a lease on it for the length of one write (quorum.go says why).
// A lease is a document of its own, portreqd_leases/<db>:<id>, made with a
// create at w = n, which every copy takes for one writer only; it is
// deleted when the write is done, renewed while a long write (a big
// upload) goes on, and taken over once expired, so that a process that
// died holding one stops nobody for longer than leaseTTL. Kazoo's
// databases get no foreign documents. Readers take no lease.

const (
	dbLeases = "portreqd_leases"
	// leaseTTL is how long a lease lasts unless renewed (every third of
	// it while the write goes on).
	leaseTTL = 9 * time.Second
	// leaseWait is how long a writer waits for a busy document before it
	// answers KindUnavailable: longer than a dead holder's lease lasts.
	leaseWait = 20 * time.Second
)

type leaseDoc struct {
	ID      string `json:"_id"`
	Rev     string `json:"_rev,omitempty"`
	Holder  string `json:"holder"`
	Expires int64  `json:"expires"` // Unix milliseconds
}

// leased runs write holding the lease on id of db; on a single node, or
// pouchdb-server, write runs at once (one copy orders the writes itself).
func (s *Store) leased(ctx context.Context, db, id string, write func() error) error {
	if s.writeN <= 1 {
		return write()
	}
	l, err := s.acquire(ctx, db+":"+id)
	if err != nil {
		return err
	}
	done := make(chan struct{})
	renewed := make(chan leaseDoc, 1)
	go s.renew(ctx, l, done, renewed)
	err = write()
	close(done)
	s.release(ctx, <-renewed)
	return err
}

// renew keeps l alive until done is closed, then hands its latest
// revision to renewed.
func (s *Store) renew(ctx context.Context, l leaseDoc, done <-chan struct{}, renewed chan<- leaseDoc) {
	ctx = context.WithoutCancel(ctx)
	t := time.NewTicker(leaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-done:
			renewed <- l
			return
		case <-t.C:
			next := l
			next.Expires = time.Now().Add(leaseTTL).UnixMilli()
			body, err := json.Marshal(next)
			if err == nil {
				next.Rev, err = s.db(dbLeases).Put(ctx, l.ID, json.RawMessage(body), s.writeOpts()...)
			}
			if err != nil {
				s.log.Warn("lease not renewed", zap.String("lease", l.ID), zap.Error(err))
				continue
			}
			l = next
		}
	}
}

// acquire takes the lease key.
func (s *Store) acquire(ctx context.Context, key string) (leaseDoc, error) {
	holder := make([]byte, 12)
	_, _ = rand.Read(holder)
	deadline := time.Now().Add(leaseWait)
	for attempt := 0; ; attempt++ {
		doc := leaseDoc{ID: key, Holder: hex.EncodeToString(holder), Expires: time.Now().Add(leaseTTL).UnixMilli()}
		rev, err := s.takeLease(ctx, doc)
		if err == nil {
			doc.Rev = rev
			return doc, nil
		}
		if !porting.IsKind(err, porting.KindConflict) {
			return leaseDoc{}, err
		}
		if time.Now().After(deadline) {
			return leaseDoc{}, porting.Wrap(porting.KindUnavailable, "datastore unavailable: the document stayed busy", err)
		}
		wait := time.Duration(1+mrand.IntN(2<<min(attempt, 6))) * time.Millisecond
		select {
		case <-ctx.Done():
			return leaseDoc{}, porting.Wrap(porting.KindUnavailable, "datastore unavailable", ctx.Err())
		case <-time.After(wait):
		}
	}
}

// takeLease creates the lease document, or writes over an expired one.
// KindConflict: another holder has it, or won the race for it.
func (s *Store) takeLease(ctx context.Context, doc leaseDoc) (string, error) {
	body, err := json.Marshal(doc)
	if err != nil {
		return "", porting.Wrap(porting.KindInternal, "couchstore: encode lease", err)
	}
	rev, err := s.put(ctx, dbLeases, doc.ID, "", body)
	switch kivik.HTTPStatus(err) {
	case http.StatusConflict:
	case http.StatusNotFound:
		// A database just created through another node may not be known
		// to this one yet (CouchDB spreads its shard map by replication).
		return "", porting.Wrap(porting.KindConflict, "lease database not visible yet", err)
	default:
		return rev, storeErr(err, doc.ID)
	}
	var held leaseDoc
	switch err := s.db(dbLeases).Get(ctx, doc.ID).ScanDoc(&held); {
	case kivik.HTTPStatus(err) == http.StatusNotFound:
		return "", porting.E(porting.KindConflict, "lease released meanwhile")
	case err != nil:
		return "", storeErr(err, doc.ID)
	}
	if held.Expires > time.Now().UnixMilli() {
		return "", porting.E(porting.KindConflict, "lease held")
	}
	s.log.Warn("expired lease taken over: its holder died or stalled",
		zap.String("lease", doc.ID), zap.Time("expired", time.UnixMilli(held.Expires)))
	doc.Rev = held.Rev
	if body, err = json.Marshal(doc); err != nil {
		return "", porting.Wrap(porting.KindInternal, "couchstore: encode lease", err)
	}
	// Written as an update, but not leased: the lease document is its own
	// arbiter, every copy takes one child of held.Rev.
	wctx, ws := withWriteStatus(ctx)
	if rev, err = s.db(dbLeases).Put(wctx, doc.ID, json.RawMessage(body), s.writeOpts()...); err != nil {
		return "", storeErr(err, doc.ID)
	}
	return rev, storeErr(s.afterWrite(ctx, dbLeases, doc.ID, rev, writeCreate, ws), doc.ID)
}

// release deletes the lease; if that fails it expires.
func (s *Store) release(ctx context.Context, l leaseDoc) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := s.db(dbLeases).Delete(ctx, l.ID, l.Rev, s.writeOpts()...); err != nil {
		s.log.Warn("lease not released; it expires", zap.String("lease", l.ID), zap.Error(err))
	}
}
