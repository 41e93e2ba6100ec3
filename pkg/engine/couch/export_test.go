package couch

import (
	"context"
	"net/url"
	"strings"
)

// Copies is the number of shard copies of db (CouchDB's n) as the engine's
// writes see it: above 1 on a cluster, where writes go at w = n, take
// leases and are settled (cluster.go).
func (e *Engine) Copies(ctx context.Context, db string) (int, error) {
	return e.ensureKnown(ctx, db)
}

// RevBatches is how many batched revision checks of db went out.
func (e *Engine) RevBatches(db string) int64 {
	if b, ok := e.revs.Load(db); ok {
		return b.(*batcher[*revCheck]).batches.Load()
	}
	return 0
}

// KeyBatches is how many batched reads by one key of any view of db went
// out.
func (e *Engine) KeyBatches(db string) int64 {
	var n int64
	e.keyReads.Range(func(k, b any) bool {
		if strings.HasPrefix(k.(string), "/"+url.PathEscape(db)+"/") {
			n += b.(*batcher[*keyRead]).batches.Load()
		}
		return true
	})
	return n
}

// PutUnleased is Put without the document's lease: a writer whose lease
// expired under it, as a loaded machine can make one.
func (e *Engine) PutUnleased(ctx context.Context, db, id string, doc []byte) (string, error) {
	h, err := headOf(doc)
	if err != nil {
		return "", err
	}
	n, err := e.ensureKnown(ctx, db)
	if err != nil {
		return "", err
	}
	return e.putOnce(ctx, n, db, id, doc, h.kind())
}
