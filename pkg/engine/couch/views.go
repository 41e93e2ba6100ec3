package couch

import (
	"context"
	"encoding/json"
	"strings"

	kivik "github.com/go-kivik/kivik/v4"

	"github.com/portreqd/portreqd/pkg/engine"
)

// Query reads a view. Map rows come with reduce=false, so that a view
// with a reduce function lists rows unless q.Reduce asks otherwise.
func (e *Engine) Query(ctx context.Context, db, design, view string, q engine.Query, fn func(engine.Row) error) error {
	if q.Keys != nil && len(q.Keys) == 0 {
		return nil
	}
	rs := e.client.DB(db).Query(ctx, design, view, queryOpts(q, true)...)
	return e.rows(rs, fn)
}

// queryOpts turns a query into kivik's parameters; keys go as raw JSON.
func queryOpts(q engine.Query, view bool) []kivik.Option {
	p := map[string]any{}
	raw := func(name string, v []byte) {
		if v != nil {
			p[name] = json.RawMessage(v)
		}
	}
	raw("key", q.Key)
	raw("startkey", q.StartKey)
	raw("endkey", q.EndKey)
	if q.Keys != nil {
		keys := make([]json.RawMessage, len(q.Keys))
		for i, k := range q.Keys {
			keys[i] = k
		}
		p["keys"] = keys
	}
	if q.StartKeyDocID != "" {
		p["startkey_docid"] = q.StartKeyDocID
	}
	if q.EndKeyDocID != "" {
		p["endkey_docid"] = q.EndKeyDocID
	}
	if q.ExclusiveEnd {
		p["inclusive_end"] = false
	}
	if q.Descending {
		p["descending"] = true
	}
	if q.Limit > 0 {
		p["limit"] = q.Limit
	}
	if q.Skip > 0 {
		p["skip"] = q.Skip
	}
	if q.IncludeDocs {
		p["include_docs"] = true
		if q.AttEncodingInfo {
			p["att_encoding_info"] = true
		}
	}
	if view {
		if q.Reduce {
			if q.Group {
				p["group"] = true
			}
			if q.GroupLevel > 0 {
				p["group_level"] = q.GroupLevel
			}
		} else {
			p["reduce"] = false
		}
	}
	return []kivik.Option{kivik.Params(p)}
}

// rows hands each row of rs to fn. Rows with an error (a missing key) or
// a deleted document (_all_docs by keys) are left out.
func (e *Engine) rows(rs *kivik.ResultSet, fn func(engine.Row) error) error {
	defer rs.Close()
	for rs.Next() {
		var key, value, doc json.RawMessage
		if err := rs.ScanKey(&key); err != nil {
			continue
		}
		if err := rs.ScanValue(&value); err != nil {
			continue // a key without a document (not_found)
		}
		if value != nil && strings.Contains(string(value), `"deleted":true`) {
			var v struct {
				Deleted bool `json:"deleted"`
			}
			if json.Unmarshal(value, &v) == nil && v.Deleted {
				continue
			}
		}
		_ = rs.ScanDoc(&doc)
		if string(doc) == "null" {
			doc = nil
		}
		id, _ := rs.ID()
		if id == "" {
			continue // _all_docs by keys: a key without a document
		}
		if err := fn(engine.Row{ID: id, Key: key, Value: value, Doc: doc}); err != nil {
			return err
		}
	}
	return mapErr(rs.Err())
}
