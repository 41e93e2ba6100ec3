package kazoo

import (
	"context"
	"encoding/json"
	"errors"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/porting"
)

// GetClaims reads the claim documents of numbers in one request; a number
// without a live claim (never claimed, released) is absent.
func (s *Store) GetClaims(ctx context.Context, numbers []string) (map[string]*porting.Claim, error) {
	out := map[string]*porting.Claim{}
	err := s.docsByID(ctx, dbClaims, numbers, func(raw []byte) error {
		var c porting.Claim
		if err := json.Unmarshal(raw, &c); err != nil {
			return porting.Wrap(porting.KindInternal, "decode claim", err)
		}
		if c.Number != "" {
			out[c.Number] = &c
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CreateClaims writes every claim in one bulk request. Each document has a
// fixed id and no _rev, so the engine stores it only if no live claim
// exists and answers conflict otherwise; that per-document answer is what
// makes two concurrent claims of one number never both succeed.
func (s *Store) CreateClaims(ctx context.Context, claims []*porting.Claim) ([]string, error) {
	taken := []string{}
	if len(claims) == 0 {
		return taken, nil
	}
	docs := make([][]byte, len(claims))
	for i, c := range claims {
		doc := *c
		doc.Rev = ""
		if doc.Type == "" {
			doc.Type = porting.ClaimType
		}
		b, err := encode(doc, "claim")
		if err != nil {
			return nil, err
		}
		docs[i] = b
	}
	results, err := s.eng.Bulk(ctx, s.db(dbClaims), docs)
	if err != nil {
		return nil, storeErr(err, "")
	}
	// Match answers by id, never by position: a server may answer
	// conflicts before successes. The same number twice in one call: the
	// first is stored and the rest refused, so a success goes to the
	// earliest claim of that id and a conflict to the latest not yet
	// answered.
	pending := make(map[string][]*porting.Claim, len(claims))
	for _, c := range claims {
		pending[c.Number] = append(pending[c.Number], c)
	}
	for _, res := range results {
		q := pending[res.ID]
		if len(q) == 0 {
			return nil, porting.E(porting.KindInternal, "kazoo: bulk write answered for an unknown claim "+res.ID)
		}
		switch {
		case res.Err == nil:
			c := q[0]
			pending[res.ID] = q[1:]
			c.Rev = res.Rev
			if c.Type == "" {
				c.Type = porting.ClaimType
			}
		case errors.Is(res.Err, engine.ErrConflict):
			c := q[len(q)-1]
			pending[res.ID] = q[:len(q)-1]
			taken = append(taken, c.Number)
		default:
			return nil, storeErr(res.Err, "")
		}
	}
	if len(results) != len(claims) {
		return nil, porting.E(porting.KindInternal, "kazoo: bulk write answered for a different number of claims")
	}
	return taken, nil
}

// DeleteClaims removes each claim at its Rev in one bulk request. A
// conflict means the claim was released or re-taken meanwhile, by a
// request that now owns it, so it is left alone.
func (s *Store) DeleteClaims(ctx context.Context, claims []*porting.Claim) error {
	docs := make([][]byte, 0, len(claims))
	for _, c := range claims {
		if c.Rev == "" {
			continue // never stored by us
		}
		docs = append(docs, mustJSON(map[string]any{"_id": c.Number, "_rev": c.Rev, "_deleted": true}))
	}
	if len(docs) == 0 {
		return nil
	}
	results, err := s.eng.Bulk(ctx, s.db(dbClaims), docs)
	if err != nil {
		return storeErr(err, "")
	}
	for _, res := range results {
		if res.Err != nil && !errors.Is(res.Err, engine.ErrConflict) && !isNotFound(res.Err) {
			return storeErr(res.Err, "")
		}
	}
	return nil
}

// ClaimRevisions reads every leaf of each claim (all shard copies), a few
// numbers at a time.
func (s *Store) ClaimRevisions(ctx context.Context, numbers []string) (map[string][]*porting.Claim, error) {
	db := s.db(dbClaims)
	out := make(map[string][]*porting.Claim, len(numbers))
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, n := range numbers {
		g.Go(func() error {
			leaves, err := s.eng.Leaves(ctx, db, n)
			if isNotFound(err) {
				return nil
			}
			if err != nil {
				return storeErr(err, "")
			}
			for _, l := range leaves {
				if l.Deleted {
					continue
				}
				var c porting.Claim
				if err := json.Unmarshal(l.Doc, &c); err != nil {
					return porting.Wrap(porting.KindInternal, "decode claim", err)
				}
				c.Number, c.Rev = n, l.Rev
				mu.Lock()
				out[n] = append(out[n], &c)
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}
