package couch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"time"

	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/engine"
)

// On a cluster, writers of one document take turns: each holds a lease on
// it for the length of one write (cluster.go says why). A lease is a
// document of its own, <LeaseDB>/<db>:<id>, made with a create at w = n,
// which every copy takes for one writer only; it is deleted when the write
// is done, renewed while a long write (a big upload) goes on, and taken
// over once expired, so that a process that died holding one stops nobody
// for longer than leaseTTL. The databases written keep no foreign
// documents. Readers take no lease.

const (
	// leaseTTL is how long a lease lasts unless renewed (every third of
	// it while the write goes on).
	leaseTTL = 9 * time.Second
	// leaseWait is how long a writer waits for a busy document before it
	// gives up with ErrUnavailable: longer than a dead holder's lease.
	leaseWait = 20 * time.Second
)

type leaseDoc struct {
	ID      string `json:"_id"`
	Rev     string `json:"_rev,omitempty"`
	Holder  string `json:"holder"`
	Expires int64  `json:"expires"` // Unix milliseconds
}

// leased runs write holding the lease on id of db (n copies); on a single
// copy write runs at once: one copy orders the writes itself.
func (e *Engine) leased(ctx context.Context, n int, db, id string, write func() error) error {
	if n <= 1 {
		return write()
	}
	l, err := e.acquire(ctx, db+":"+id)
	if err != nil {
		return err
	}
	done := make(chan struct{})
	renewed := make(chan leaseDoc, 1)
	go e.renew(ctx, l, done, renewed)
	err = write()
	close(done)
	e.release(ctx, <-renewed)
	return err
}

// acquire takes the lease key.
func (e *Engine) acquire(ctx context.Context, key string) (leaseDoc, error) {
	if err := e.ensureLeaseDB(ctx); err != nil {
		return leaseDoc{}, err
	}
	holder := make([]byte, 12)
	_, _ = rand.Read(holder)
	deadline := time.Now().Add(leaseWait)
	for attempt := 0; ; attempt++ {
		doc := leaseDoc{ID: key, Holder: hex.EncodeToString(holder), Expires: time.Now().Add(leaseTTL).UnixMilli()}
		rev, err := e.takeLease(ctx, doc)
		if err == nil {
			doc.Rev = rev
			return doc, nil
		}
		if !errors.Is(err, engine.ErrConflict) {
			return leaseDoc{}, err
		}
		if time.Now().After(deadline) {
			return leaseDoc{}, fmt.Errorf("%w: %s stayed busy for %s: %v", engine.ErrUnavailable, key, leaseWait, err)
		}
		wait := time.Duration(1+mrand.IntN(2<<min(attempt, 6))) * time.Millisecond
		select {
		case <-ctx.Done():
			return leaseDoc{}, fmt.Errorf("%w: %v", engine.ErrUnavailable, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// ensureLeaseDB creates the lease database once. A database just created
// through another node may not be known to this one for a moment
// (CouchDB spreads its shard map by replication): then writes answer 404,
// which takeLease retries.
func (e *Engine) ensureLeaseDB(ctx context.Context) error {
	if _, ok := e.dbs.Load(e.leaseDB); ok {
		return nil
	}
	if err := e.CreateDB(ctx, e.leaseDB); err != nil {
		return err
	}
	_, err := e.ensureKnown(ctx, e.leaseDB)
	return err
}

// takeLease creates the lease document, or writes over an expired one.
// ErrConflict: another holder has it, or won the race for it.
func (e *Engine) takeLease(ctx context.Context, doc leaseDoc) (string, error) {
	body, _ := json.Marshal(doc)
	rev, err := e.Put(ctx, e.leaseDB, doc.ID, body)
	switch {
	case err == nil:
		return rev, nil
	case errors.Is(err, engine.ErrNotFound):
		return "", fmt.Errorf("%w: lease database not visible yet: %v", engine.ErrConflict, err)
	case !errors.Is(err, engine.ErrConflict):
		return "", err
	}
	var held leaseDoc
	raw, err := e.Get(ctx, e.leaseDB, doc.ID, engine.GetOptions{})
	switch {
	case errors.Is(err, engine.ErrNotFound):
		return "", fmt.Errorf("%w: lease released meanwhile", engine.ErrConflict)
	case err != nil:
		return "", err
	}
	if err := json.Unmarshal(raw, &held); err != nil {
		return "", fmt.Errorf("%w: lease %s: %v", engine.ErrUnavailable, doc.ID, err)
	}
	if held.Expires > time.Now().UnixMilli() {
		return "", fmt.Errorf("%w: lease held", engine.ErrConflict)
	}
	e.log.Warn("expired lease taken over: its holder died or stalled",
		zap.String("lease", doc.ID), zap.Time("expired", time.UnixMilli(held.Expires)))
	doc.Rev = held.Rev
	body, _ = json.Marshal(doc)
	// Written over held.Rev but not leased, and settled as a create: the
	// lease document is its own arbiter, every copy takes one child.
	n, err := e.ensureKnown(ctx, e.leaseDB)
	if err != nil {
		return "", err
	}
	wctx, ws := withWriteStatus(ctx)
	if rev, err = e.client.DB(e.leaseDB).Put(wctx, doc.ID, json.RawMessage(body), writeOpts(n)...); err != nil {
		return "", mapErr(err)
	}
	return rev, e.afterWrite(ctx, e.leaseDB, doc.ID, rev, writeCreate, ws)
}

// renew keeps l alive until done is closed, then hands its latest
// revision to renewed.
func (e *Engine) renew(ctx context.Context, l leaseDoc, done <-chan struct{}, renewed chan<- leaseDoc) {
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
			body, _ := json.Marshal(next)
			n, err := e.ensureKnown(ctx, e.leaseDB)
			if err == nil {
				next.Rev, err = e.client.DB(e.leaseDB).Put(ctx, l.ID, json.RawMessage(body), writeOpts(n)...)
			}
			if err != nil {
				e.log.Warn("lease not renewed", zap.String("lease", l.ID), zap.Error(err))
				continue
			}
			l = next
		}
	}
}

// release deletes the lease; if that fails it expires.
func (e *Engine) release(ctx context.Context, l leaseDoc) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	n, err := e.ensureKnown(ctx, e.leaseDB)
	if err == nil {
		_, err = e.client.DB(e.leaseDB).Delete(ctx, l.ID, l.Rev, writeOpts(n)...)
	}
	if err != nil {
		e.log.Warn("lease not released; it expires", zap.String("lease", l.ID), zap.Error(err))
	}
}
