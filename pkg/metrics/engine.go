package metrics

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/portreqd/portreqd/pkg/engine"
)

// Engine wraps e so that every call is counted and timed by operation and
// outcome (portreqd_store_calls_total, portreqd_store_call_duration_seconds).
//
// The Kazoo layer asks the engine for optional capabilities by type
// assertion (engine.LocalReads, engine.Replicating, engine.AttachmentsAt,
// and the server's Version), and the answer changes what it does. The
// wrapper keeps every answer as e gives it: LocalReads and Version are
// always forwarded (answering false, and an error, where e lacks them,
// which is what their callers make of a missing method), and the wrapper
// returned implements Replicating and AttachmentsAt exactly when e does.
func (m *Metrics) Engine(e engine.Engine) engine.Engine {
	w := &meteredEngine{inner: e, m: m}
	_, replicating := e.(engine.Replicating)
	_, attachmentsAt := e.(engine.AttachmentsAt)
	switch {
	case replicating && attachmentsAt:
		return &replicatingAttachmentsAtEngine{w}
	case replicating:
		return &replicatingEngine{w}
	case attachmentsAt:
		return &attachmentsAtEngine{w}
	}
	return w
}

// The wrapper types that add the optional interfaces e implements.
type (
	replicatingEngine              struct{ *meteredEngine }
	attachmentsAtEngine            struct{ *meteredEngine }
	replicatingAttachmentsAtEngine struct{ *meteredEngine }
)

func (r *replicatingEngine) Replications(ctx context.Context) ([]engine.Replication, error) {
	return r.replications(ctx)
}

func (a *attachmentsAtEngine) GetAttachmentAt(ctx context.Context, db, id, name, rev string) (*engine.Attachment, error) {
	return a.getAttachmentAt(ctx, db, id, name, rev)
}

func (r *replicatingAttachmentsAtEngine) Replications(ctx context.Context) ([]engine.Replication, error) {
	return r.replications(ctx)
}

func (r *replicatingAttachmentsAtEngine) GetAttachmentAt(ctx context.Context, db, id, name, rev string) (*engine.Attachment, error) {
	return r.getAttachmentAt(ctx, db, id, name, rev)
}

// meteredEngine is the wrapper of every engine.
type meteredEngine struct {
	inner engine.Engine
	m     *Metrics
}

// LocalReads forwards engine.LocalReads: false where the inner engine
// does not implement it, as its callers read a missing method.
func (e *meteredEngine) LocalReads() bool {
	l, ok := e.inner.(engine.LocalReads)
	return ok && l.LocalReads()
}

// Version forwards the server's version, which the store logs on opening.
func (e *meteredEngine) Version(ctx context.Context) (vendor, version string, err error) {
	v, ok := e.inner.(interface {
		Version(ctx context.Context) (vendor, version string, err error)
	})
	if !ok {
		return "", "", errors.New("metrics: the engine does not report its version")
	}
	return v.Version(ctx)
}

// outcome names err for the outcome label. ErrNotModified is a success:
// the server confirmed the caller's revision.
func outcome(err error) string {
	switch {
	case err == nil, errors.Is(err, engine.ErrNotModified):
		return "ok"
	case errors.Is(err, engine.ErrNotFound):
		return "not_found"
	case errors.Is(err, engine.ErrConflict):
		return "conflict"
	}
	return "error"
}

// observe records one call of op that started at start.
func (e *meteredEngine) observe(op string, start time.Time, err error) {
	e.m.storeCalls.WithLabelValues(op, outcome(err)).Inc()
	e.m.storeDuration.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

// callerErrors wraps a row callback so that an error of the caller's own
// (which stops a listing early, on purpose or not) is not the engine's:
// the call then counts as ok.
func callerErrors[T any](fn func(T) error) (func(T) error, func(error) error) {
	var mine error
	wrapped := func(v T) error {
		err := fn(v)
		if err != nil {
			mine = err
		}
		return err
	}
	engineErr := func(err error) error {
		if mine != nil && errors.Is(err, mine) {
			return nil
		}
		return err
	}
	return wrapped, engineErr
}

func (e *meteredEngine) Ping(ctx context.Context) error {
	start := time.Now()
	err := e.inner.Ping(ctx)
	e.observe("ping", start, err)
	return err
}

func (e *meteredEngine) Close() error { return e.inner.Close() }

func (e *meteredEngine) CreateDB(ctx context.Context, db string) error {
	start := time.Now()
	err := e.inner.CreateDB(ctx, db)
	e.observe("create_db", start, err)
	return err
}

func (e *meteredEngine) DBExists(ctx context.Context, db string) (bool, error) {
	start := time.Now()
	ok, err := e.inner.DBExists(ctx, db)
	e.observe("db_exists", start, err)
	return ok, err
}

func (e *meteredEngine) DeleteDB(ctx context.Context, db string) error {
	start := time.Now()
	err := e.inner.DeleteDB(ctx, db)
	e.observe("delete_db", start, err)
	return err
}

func (e *meteredEngine) AllDBs(ctx context.Context) ([]string, error) {
	start := time.Now()
	dbs, err := e.inner.AllDBs(ctx)
	e.observe("all_dbs", start, err)
	return dbs, err
}

func (e *meteredEngine) Get(ctx context.Context, db, id string, o engine.GetOptions) ([]byte, error) {
	start := time.Now()
	doc, err := e.inner.Get(ctx, db, id, o)
	e.observe("get", start, err)
	return doc, err
}

func (e *meteredEngine) Leaves(ctx context.Context, db, id string) ([]engine.Leaf, error) {
	start := time.Now()
	leaves, err := e.inner.Leaves(ctx, db, id)
	e.observe("leaves", start, err)
	return leaves, err
}

func (e *meteredEngine) Put(ctx context.Context, db, id string, doc []byte) (string, error) {
	start := time.Now()
	rev, err := e.inner.Put(ctx, db, id, doc)
	e.observe("put", start, err)
	return rev, err
}

func (e *meteredEngine) Delete(ctx context.Context, db, id, rev string) (string, error) {
	start := time.Now()
	rev, err := e.inner.Delete(ctx, db, id, rev)
	e.observe("delete", start, err)
	return rev, err
}

// Bulk counts the request, not its documents: each document's own answer
// is the caller's to read.
func (e *meteredEngine) Bulk(ctx context.Context, db string, docs [][]byte) ([]engine.Result, error) {
	start := time.Now()
	res, err := e.inner.Bulk(ctx, db, docs)
	e.observe("bulk", start, err)
	return res, err
}

func (e *meteredEngine) PutRevision(ctx context.Context, db, id string, doc []byte) error {
	start := time.Now()
	err := e.inner.PutRevision(ctx, db, id, doc)
	e.observe("put_revision", start, err)
	return err
}

func (e *meteredEngine) AllDocs(ctx context.Context, db string, q engine.Query, fn func(engine.Row) error) error {
	start := time.Now()
	fn, engineErr := callerErrors(fn)
	err := e.inner.AllDocs(ctx, db, q, fn)
	e.observe("all_docs", start, engineErr(err))
	return err
}

func (e *meteredEngine) PutAttachment(ctx context.Context, db, id, rev, name, contentType string, body io.Reader) (string, error) {
	start := time.Now()
	rev, err := e.inner.PutAttachment(ctx, db, id, rev, name, contentType, body)
	e.observe("put_attachment", start, err)
	return rev, err
}

// GetAttachment times the opening of the attachment, not the reading of
// its body, which the caller paces.
func (e *meteredEngine) GetAttachment(ctx context.Context, db, id, name string) (*engine.Attachment, error) {
	start := time.Now()
	a, err := e.inner.GetAttachment(ctx, db, id, name)
	e.observe("get_attachment", start, err)
	return a, err
}

func (e *meteredEngine) Query(ctx context.Context, db, design, view string, q engine.Query, fn func(engine.Row) error) error {
	start := time.Now()
	fn, engineErr := callerErrors(fn)
	err := e.inner.Query(ctx, db, design, view, q, fn)
	e.observe("query", start, engineErr(err))
	return err
}

// Changes times a feed that ends by itself; a continuous one lives as long
// as its caller wants, so it is only counted.
func (e *meteredEngine) Changes(ctx context.Context, db string, q engine.ChangesQuery, fn func(engine.Change) error) error {
	start := time.Now()
	fn, engineErr := callerErrors(fn)
	err := e.inner.Changes(ctx, db, q, fn)
	if !q.Continuous {
		e.observe("changes", start, engineErr(err))
		return err
	}
	seen := engineErr(err)
	if ctx.Err() != nil && errors.Is(seen, ctx.Err()) {
		seen = nil // the caller ended the feed
	}
	e.m.storeCalls.WithLabelValues("changes_continuous", outcome(seen)).Inc()
	return err
}

func (e *meteredEngine) replications(ctx context.Context) ([]engine.Replication, error) {
	start := time.Now()
	reps, err := e.inner.(engine.Replicating).Replications(ctx)
	e.observe("replications", start, err)
	return reps, err
}

func (e *meteredEngine) getAttachmentAt(ctx context.Context, db, id, name, rev string) (*engine.Attachment, error) {
	start := time.Now()
	a, err := e.inner.(engine.AttachmentsAt).GetAttachmentAt(ctx, db, id, name, rev)
	e.observe("get_attachment_at", start, err)
	return a, err
}
