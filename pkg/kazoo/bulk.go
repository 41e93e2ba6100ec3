package kazoo

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/porting"
)

// RawPutMany writes docs, none with attachments, with one _all_docs read
// of the current revisions and one bulk write, creating the database when
// missing. Documents with attachments or ids CouchDB would refuse (empty,
// or starting with "_") refuse the batch before anything is written. Each
// document replaces whatever is stored (a deleted document is written as
// new); of several documents with one id the last is written. The engine
// accepts or refuses each document on its own: the refused ones are named
// in the error, the others are written.
func (s *Store) RawPutMany(ctx context.Context, db string, docs []*porting.RawDoc) error {
	if len(docs) == 0 {
		return nil
	}
	last := make(map[string]int, len(docs)) // id → index of its last document
	for i, d := range docs {
		switch {
		case len(d.Attachments) > 0:
			return porting.E(porting.KindInternal, "kazoo: RawPutMany: "+d.ID+" has attachments; use RawPut")
		case d.ID == "" || strings.HasPrefix(d.ID, "_"):
			return porting.E(porting.KindInternal, "kazoo: RawPutMany: invalid document id "+strconv.Quote(d.ID))
		}
		last[d.ID] = i
	}
	ids := make([]string, 0, len(last))
	bodies := make([]map[string]json.RawMessage, 0, len(last))
	for i, d := range docs {
		if last[d.ID] != i {
			continue
		}
		var body map[string]json.RawMessage
		if err := json.Unmarshal(d.Body, &body); err != nil || body == nil {
			if err == nil {
				err = fmt.Errorf("body is %s", d.Body)
			}
			return porting.Wrap(porting.KindInternal, "kazoo: encode "+d.ID, err)
		}
		delete(body, "_rev")
		delete(body, "_attachments")
		body["_id"] = mustJSON(d.ID)
		ids = append(ids, d.ID)
		bodies = append(bodies, body)
	}
	if _, err := s.dbExists(ctx, db, true); err != nil {
		return err
	}
	revs, err := s.currentRevs(ctx, db, ids)
	if err != nil {
		return err
	}
	out := make([][]byte, len(bodies))
	for i, body := range bodies {
		if rev := revs[ids[i]]; rev != "" {
			body["_rev"] = mustJSON(rev)
		}
		if out[i], err = encode(body, ids[i]); err != nil {
			return err
		}
	}
	results, err := s.eng.Bulk(ctx, s.db(db), out)
	if err != nil {
		return storeErr(err, "")
	}
	if len(results) != len(out) {
		return porting.E(porting.KindInternal, fmt.Sprintf(
			"kazoo: bulk write of %s answered for %d of %d documents", db, len(results), len(out)))
	}
	var refused []string
	var first error
	for i, res := range results {
		if res.Err == nil {
			continue
		}
		id := res.ID
		if id == "" {
			id = ids[i]
		}
		if first == nil {
			first = storeErr(res.Err, id)
		}
		refused = append(refused, fmt.Sprintf("%s (%v)", id, res.Err))
	}
	if first != nil {
		return porting.Wrap(porting.KindOf(first), fmt.Sprintf("kazoo: RawPutMany into %s: %d of %d documents refused: %s",
			db, len(refused), len(out), strings.Join(refused, ", ")), first)
	}
	return nil
}

// currentRevs returns the revisions of the live documents among ids, from
// one _all_docs read; a missing database has none.
func (s *Store) currentRevs(ctx context.Context, db string, ids []string) (map[string]string, error) {
	revs := make(map[string]string, len(ids))
	keys := make([][]byte, len(ids))
	for i, id := range ids {
		keys[i] = mustJSON(id)
	}
	err := s.eng.AllDocs(ctx, s.db(db), engine.Query{Keys: keys}, func(r engine.Row) error {
		var v struct {
			Rev     string `json:"rev"`
			Deleted bool   `json:"deleted"`
		}
		if json.Unmarshal(r.Value, &v) == nil && !v.Deleted && v.Rev != "" {
			revs[r.ID] = v.Rev
		}
		return nil
	})
	if err != nil && !isNotFound(err) {
		return nil, storeErr(err, "")
	}
	return revs, nil
}
