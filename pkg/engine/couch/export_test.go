package couch

import "context"

// Copies is the number of shard copies of db (CouchDB's n) as the engine's
// writes see it: above 1 on a cluster, where writes go at w = n, take
// leases and are settled (cluster.go).
func (e *Engine) Copies(ctx context.Context, db string) (int, error) {
	return e.ensureKnown(ctx, db)
}

// RevBatches is how many batched revision checks of db went out.
func (e *Engine) RevBatches(db string) int64 {
	if rc, ok := e.revs.Load(db); ok {
		return rc.(*revChecks).batches.Load()
	}
	return 0
}
