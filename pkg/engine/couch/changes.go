package couch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	kivik "github.com/go-kivik/kivik/v4"

	"github.com/portreqd/portreqd/pkg/engine"
)

// Changes reads _changes (style main_only: each document once, at its
// winning revision); a continuous feed runs until ctx ends or fn fails.
func (e *Engine) Changes(ctx context.Context, db string, q engine.ChangesQuery, fn func(engine.Change) error) error {
	p := map[string]any{}
	if q.Since != "" {
		p["since"] = q.Since
	}
	if q.Limit > 0 {
		p["limit"] = q.Limit
	}
	if q.IncludeDocs {
		p["include_docs"] = true
	}
	if q.AllLeaves {
		p["style"] = "all_docs"
	}
	if q.Continuous {
		p["feed"] = "continuous"
		p["heartbeat"] = 10000
	}
	ch := e.client.DB(db).Changes(ctx, kivik.Params(p))
	defer ch.Close()
	for {
		more, err := nextChange(ch)
		if err != nil {
			if ctx.Err() != nil && q.Continuous {
				return nil
			}
			return err
		}
		if !more {
			break
		}
		c := engine.Change{Seq: ch.Seq(), ID: ch.ID(), Deleted: ch.Deleted()}
		if revs := ch.Changes(); len(revs) > 0 {
			c.Rev = revs[0]
			if q.AllLeaves {
				c.Leaves = revs
			}
		}
		if q.IncludeDocs {
			var doc json.RawMessage
			if err := ch.ScanDoc(&doc); err == nil && string(doc) != "null" {
				c.Doc = doc
			}
		}
		if err := fn(c); err != nil {
			return err
		}
	}
	err := ch.Err()
	if q.Continuous && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) && ctx.Err() != nil {
		return nil
	}
	return mapErr(err)
}

// nextChange is ch.Next, except that a continuous feed the server ends
// (its database deleted, the connection closed) is an error rather than
// a crash: kivik v4.5.2 reads the last sequence of such a feed from
// metadata it never made (a nil *changesMeta) and panics. The iterator
// unlocks itself on the way out, so Close still works.
func nextChange(ch *kivik.Changes) (more bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			more, err = false, fmt.Errorf("%w: the changes feed ended (%v)", engine.ErrUnavailable, r)
		}
	}()
	return ch.Next(), nil
}
