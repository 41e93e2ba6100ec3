package boltstore

import (
	"context"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// Group commit. Every bbolt commit costs two fsyncs, and only one write
// transaction runs at a time; with one transaction per write, 16 clients
// would queue behind each other's fsyncs. So writers queue their function
// and one of them, the leader, runs every function queued by then in one
// transaction. A lone writer leads at once (no added latency, unlike
// bolt.DB.Batch's timer); writers arriving during a commit share the next
// one, led by the first of them, so that no goroutine serves others for
// long.
//
// A function may run more than once: when one function of a group fails,
// the transaction is rolled back and each function runs again alone, so
// that one conflict cannot undo another writer's success. Functions
// therefore compute everything from the transaction and report results
// only through variables they overwrite on each run.

// writeQueue is the state of group commit.
type writeQueue struct {
	mu      sync.Mutex
	pending []*writeCall
	leading bool // a leader is running or has been chosen
}

// writeCall is one queued write.
type writeCall struct {
	fn   func(tx *bolt.Tx) error
	err  error
	done chan struct{} // closed once err is final
	lead chan struct{} // receives when this call's goroutine must lead
}

// write runs fn in a write transaction, committed (and fsynced) when write
// returns nil. An error of fn rolls back its changes and is returned.
func (s *Store) write(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return storeErr(err)
	}
	c := &writeCall{fn: fn, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	q := &s.wq
	q.mu.Lock()
	q.pending = append(q.pending, c)
	if !q.leading {
		q.leading = true
		c.lead <- struct{}{}
	}
	q.mu.Unlock()

	select {
	case <-c.done: // committed by a leader
		return c.err
	case <-c.lead:
	}
	// Leading: c is still pending (only leaders take calls, and leadership
	// goes to a pending call), so the group holds it.
	q.mu.Lock()
	group := q.pending
	q.pending = nil
	q.mu.Unlock()
	s.commitGroup(group)
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

// commitGroup runs group in one transaction, or each call alone when one
// of them fails, and then marks every call done.
func (s *Store) commitGroup(group []*writeCall) {
	defer func() {
		for _, c := range group {
			close(c.done)
		}
	}()
	if len(group) > 1 {
		failed := false
		err := s.db.Update(func(tx *bolt.Tx) error {
			for _, c := range group {
				if err := c.fn(tx); err != nil {
					failed = true
					return err
				}
			}
			return nil
		})
		if !failed { // committed, or the commit itself failed for all
			for _, c := range group {
				c.err = storeErr(err)
			}
			return
		}
	}
	for _, c := range group {
		c.err = storeErr(s.db.Update(c.fn))
	}
}
