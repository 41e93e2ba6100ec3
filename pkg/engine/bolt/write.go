package bolt

import (
	"context"
	"sync"

	bbolt "go.etcd.io/bbolt"
)

// Group commit. Every bbolt commit costs two fsyncs and only one write
// transaction runs at a time; with one transaction per write, concurrent
// writers would queue behind each other's fsyncs. So writers queue their
// function and one of them, the leader, runs every function queued by then
// in one transaction. A lone writer leads at once (no timer, unlike
// bbolt.DB.Batch); writers arriving during a commit share the next one.
//
// A write refused by CouchDB's rules (a conflict, a bad request, a missing
// database) is detected before the function changes anything and returned
// as a refusal: the group goes on without it. Any other failure rolls the
// transaction back and each function of the group runs again alone, so a
// function may run more than once: functions compute everything from the
// transaction and report results only through variables they overwrite on
// each run.

// refusal is an error found before a write function changed anything.
type refusal struct{ err error }

func (r refusal) Error() string { return r.err.Error() }
func (r refusal) Unwrap() error { return r.err }

func refuse(err error) error { return refusal{err} }

type writeQueue struct {
	mu      sync.Mutex
	pending []*writeCall
	leading bool
}

type writeCall struct {
	db   string // woken after a successful commit ("" none)
	fn   func(tx *bbolt.Tx) error
	err  error
	done chan struct{}
	lead chan struct{}
}

// write runs fn in a write transaction, committed and fsynced when write
// returns nil, and then wakes db's changes feeds.
func (e *Engine) write(ctx context.Context, db string, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return e.fail(err)
	}
	c := &writeCall{db: db, fn: fn, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	q := &e.wq
	q.mu.Lock()
	q.pending = append(q.pending, c)
	if !q.leading {
		q.leading = true
		c.lead <- struct{}{}
	}
	q.mu.Unlock()

	select {
	case <-c.done:
		return c.err
	case <-c.lead:
	}
	q.mu.Lock()
	group := q.pending
	q.pending = nil
	q.mu.Unlock()
	e.commitGroup(group)
	q.mu.Lock()
	if len(q.pending) > 0 {
		q.pending[0].lead <- struct{}{}
	} else {
		q.leading = false
	}
	q.mu.Unlock()
	<-c.done
	return c.err
}

// commitGroup runs group in one transaction (or each call alone when one
// fails for a reason other than a refusal), wakes the feeds of the
// databases written and marks every call done.
func (e *Engine) commitGroup(group []*writeCall) {
	defer func() {
		if e.gcWanted.Swap(false) {
			e.kickGC()
		}
		for _, c := range group {
			if c.err == nil && c.db != "" {
				e.wake(c.db)
			}
			close(c.done)
		}
	}()
	if len(group) > 1 {
		failed := false
		err := e.db.Update(func(tx *bbolt.Tx) error {
			for _, c := range group {
				c.err = nil
				if err := c.fn(tx); err != nil {
					if _, ok := err.(refusal); ok {
						c.err = e.fail(err)
						continue
					}
					failed = true
					return err
				}
			}
			return nil
		})
		if !failed {
			for _, c := range group {
				if c.err == nil {
					c.err = e.fail(err)
				}
			}
			return
		}
	}
	for _, c := range group {
		c.err = e.fail(e.db.Update(c.fn))
	}
}
