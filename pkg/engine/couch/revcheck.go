package couch

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portreqd/portreqd/pkg/engine"
)

// Coalescing. Most of what CouchDB spends on a small read is the request
// itself: HTTP, basic authentication, the coordinator. Measured on CouchDB
// 3.4.3 at 16 clients (1 KB documents), one POST _all_docs {"keys":[…]}
// of 8 ids answers 2.2× as many ids per second as single GETs do, 4 ids
// 1.8×, 2 ids 1.3×; a view read by keys gains alike.
//
// So the two small reads portreqd sends most, a revision check (a Get
// with only If-None-Match: "is the copy I hold still current?") and a
// view read by one key (a port request by number), wait when revSlots of
// their kind are on the wire and then go together: the checks as one
// _all_docs by keys without documents (the winning revision of each id,
// read at a quorum on a cluster, as a GET reads it), the key reads as one
// view read by keys. A read never waits for a timer: with a slot free it
// goes at once, alone, as the request it stands for, so a lone client pays
// nothing. Each read is sent after it was asked, so an answer is never
// older than its question: what the single request would have answered.

// revSlots is how many reads (single or batched) of one kind are on the
// wire at once per database or view; more wait and are batched.
const revSlots = 4

// maxBatch bounds the reads of one batch.
const maxBatch = 100

// batchTimeout bounds a batch, which no single caller owns.
const batchTimeout = 2 * time.Minute

// batcher sends the calls added to it, alone while a slot is free,
// together while none is.
type batcher[C any] struct {
	slots chan struct{}
	// run answers a batch (of one or more calls).
	run func(batch []C)

	mu      sync.Mutex
	pending []C

	batches atomic.Int64 // batches of two or more sent, for tests
}

func newBatcher[C any](run func([]C)) *batcher[C] {
	return &batcher[C]{slots: make(chan struct{}, revSlots), run: run}
}

func (b *batcher[C]) add(c C) {
	b.mu.Lock()
	b.pending = append(b.pending, c)
	b.mu.Unlock()
	b.kick()
}

// kick sends what is pending while slots are free. A batch that ends
// kicks again, so no call is left pending with a slot free.
func (b *batcher[C]) kick() {
	for {
		select {
		case b.slots <- struct{}{}:
		default:
			return // every slot busy: the first batch to end sends the rest
		}
		b.mu.Lock()
		n := min(len(b.pending), maxBatch)
		batch := make([]C, n)
		copy(batch, b.pending)
		clear(b.pending[:n])
		b.pending = append(b.pending[:0], b.pending[n:]...)
		more := len(b.pending) > 0
		b.mu.Unlock()
		if n == 0 {
			<-b.slots
			// A call added while the slot was held found none free.
			b.mu.Lock()
			more = len(b.pending) > 0
			b.mu.Unlock()
			if !more {
				return
			}
			continue
		}
		if n > 1 {
			b.batches.Add(1)
		}
		go func() {
			defer func() {
				<-b.slots
				b.kick()
			}()
			b.run(batch)
		}()
		if !more {
			return
		}
	}
}

// batchContext is the context of a batch: the first caller's values,
// none's cancellation (the others still wait for the answer).
func batchContext(first context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(first), batchTimeout)
}

// revCheck is one caller's revision check and, once done is closed, its
// answer.
type revCheck struct {
	ctx  context.Context
	id   string
	rev  string
	done chan struct{}

	raw []byte // the answer of a GET sent alone
	err error
	// alone says the check went alone: raw and err are the GET's answer.
	// Otherwise err is ErrNotModified when rev is current, and nil when
	// the caller must read the document itself.
	alone bool
}

// checkedGet is Get with only o.IfNoneMatch set, through db's batcher.
func (e *Engine) checkedGet(ctx context.Context, db, id, rev string) ([]byte, error) {
	c := &revCheck{ctx: ctx, id: id, rev: rev, done: make(chan struct{})}
	e.revChecksOf(db).add(c)
	select {
	case <-c.done:
	case <-ctx.Done():
		return nil, mapErr(ctx.Err())
	}
	if c.alone || c.err != nil {
		return c.raw, c.err
	}
	return e.getDirect(ctx, db, id, engine.GetOptions{IfNoneMatch: rev})
}

func (e *Engine) revChecksOf(db string) *batcher[*revCheck] {
	if b, ok := e.revs.Load(db); ok {
		return b.(*batcher[*revCheck])
	}
	b, _ := e.revs.LoadOrStore(db, newBatcher(func(batch []*revCheck) { e.runRevChecks(db, batch) }))
	return b.(*batcher[*revCheck])
}

// runRevChecks answers a batch of revision checks of db.
func (e *Engine) runRevChecks(db string, batch []*revCheck) {
	if len(batch) == 1 {
		c := batch[0]
		c.alone = true
		c.raw, c.err = e.getDirect(c.ctx, db, c.id, engine.GetOptions{IfNoneMatch: c.rev})
		close(c.done)
		return
	}
	ctx, cancel := batchContext(batch[0].ctx)
	defer cancel()
	keys := make([][]byte, 0, len(batch))
	seen := make(map[string]bool, len(batch))
	for _, c := range batch {
		if !seen[c.id] {
			seen[c.id] = true
			k, _ := json.Marshal(c.id) // a string always encodes
			keys = append(keys, k)
		}
	}
	current := make(map[string]string, len(keys))
	err := e.AllDocs(ctx, db, engine.Query{Keys: keys}, func(r engine.Row) error {
		var v struct {
			Rev string `json:"rev"`
		}
		if json.Unmarshal(r.Value, &v) == nil {
			current[r.ID] = v.Rev
		}
		return nil
	})
	for _, c := range batch {
		// A failed batch, or an id not at the caller's revision (changed,
		// deleted or missing), leaves the caller to its own GET, whose
		// answer, or error, is its own.
		if err == nil && current[c.id] == c.rev {
			c.err = fmt.Errorf("%w: %s/%s is at %s", engine.ErrNotModified, db, c.id, c.rev)
		}
		close(c.done)
	}
}

// keyRead is one caller's view read by one key and, once done is closed,
// its rows.
type keyRead struct {
	ctx  context.Context
	key  []byte
	done chan struct{}
	rows []engine.Row
	err  error
}

// keyQuery tells whether q reads a view by one key and nothing else
// (include_docs aside), which a batch of keys can answer.
func keyQuery(q engine.Query) bool {
	return q.Key != nil && q.Keys == nil && q.StartKey == nil && q.EndKey == nil &&
		q.StartKeyDocID == "" && q.EndKeyDocID == "" && !q.ExclusiveEnd && !q.Descending &&
		q.Limit == 0 && q.Skip == 0 && !q.AttEncodingInfo && !q.Reduce && !q.Group && q.GroupLevel == 0
}

// keyedQuery is Query of one key (keyQuery), through the view's batcher.
func (e *Engine) keyedQuery(ctx context.Context, path string, q engine.Query, fn func(engine.Row) error) error {
	c := &keyRead{ctx: ctx, key: q.Key, done: make(chan struct{})}
	e.keyReadsOf(path, q.IncludeDocs).add(c)
	select {
	case <-c.done:
	case <-ctx.Done():
		return mapErr(ctx.Err())
	}
	if c.err != nil {
		return c.err
	}
	for _, r := range c.rows {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) keyReadsOf(path string, docs bool) *batcher[*keyRead] {
	name := fmt.Sprintf("%s?include_docs=%t", path, docs)
	if b, ok := e.keyReads.Load(name); ok {
		return b.(*batcher[*keyRead])
	}
	b, _ := e.keyReads.LoadOrStore(name, newBatcher(func(batch []*keyRead) { e.runKeyReads(path, docs, batch) }))
	return b.(*batcher[*keyRead])
}

// runKeyReads answers a batch of key reads of the view at path: alone as
// the request itself, together as one read by keys whose rows go to the
// callers by key.
func (e *Engine) runKeyReads(path string, docs bool, batch []*keyRead) {
	collect := func(c *keyRead) func(engine.Row) error {
		return func(r engine.Row) error { c.rows = append(c.rows, r); return nil }
	}
	if len(batch) == 1 {
		c := batch[0]
		c.err = e.readRows(c.ctx, path, engine.Query{Key: c.key, IncludeDocs: docs}, true, collect(c))
		close(c.done)
		return
	}
	ctx, cancel := batchContext(batch[0].ctx)
	defer cancel()
	byKey := make(map[string][]*keyRead, len(batch))
	keys := make([][]byte, 0, len(batch))
	for _, c := range batch {
		k, err := canonicalKey(c.key)
		if err != nil {
			c.err = fmt.Errorf("%w: view key is not JSON: %v", engine.ErrBadRequest, err)
			close(c.done)
			continue
		}
		if byKey[k] == nil {
			keys = append(keys, c.key)
		}
		byKey[k] = append(byKey[k], c)
	}
	err := e.readRows(ctx, path, engine.Query{Keys: keys, IncludeDocs: docs}, true, func(r engine.Row) error {
		k, err := canonicalKey(r.Key)
		if err != nil {
			return fmt.Errorf("%w: %s: a row key is not JSON", engine.ErrUnavailable, path)
		}
		for _, c := range byKey[k] {
			c.rows = append(c.rows, r)
		}
		return nil
	})
	for _, cs := range byKey {
		for _, c := range cs {
			if err != nil {
				c.rows, c.err = nil, err
			}
			close(c.done)
		}
	}
}

// canonicalKey is a JSON view key as encoding/json writes its value (map
// members sorted, numbers in one form), so that a row's key as the server
// wrote it matches the key a caller asked for.
func canonicalKey(k []byte) (string, error) {
	var v any
	if err := json.Unmarshal(k, &v); err != nil {
		return "", err
	}
	b, err := json.Marshal(v)
	return string(b), err
}
