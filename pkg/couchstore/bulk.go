package couchstore

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	kivik "github.com/go-kivik/kivik/v4"

	"github.com/portreqd/portreqd/pkg/porting"
)

// Bulk raw access: a batch of documents costs two requests (the current
// revisions from _all_docs, then one _bulk_docs) instead of two per
// document, and a batch read one _all_docs with include_docs.

// RawPutMany writes docs, none with attachments, with one _all_docs?keys
// request for the current revisions and one _bulk_docs request, creating
// the database when missing. Documents with attachments or ids CouchDB
// would refuse (empty, or starting with "_") refuse the batch before any
// request. Each document replaces whatever is stored (a
// deleted document is written as new, as RawPut does); of several
// documents with one id the last is written. CouchDB accepts or refuses
// each document on its own: the refused ones are named in the error, the
// others are written.
func (s *Store) RawPutMany(ctx context.Context, db string, docs []*porting.RawDoc) error {
	if len(docs) == 0 {
		return nil
	}
	last := make(map[string]int, len(docs)) // id → index of its last document
	for i, d := range docs {
		switch {
		case len(d.Attachments) > 0:
			return porting.E(porting.KindInternal, "couchstore: RawPutMany: "+d.ID+" has attachments; use RawPut")
		case d.ID == "" || strings.HasPrefix(d.ID, "_"):
			// CouchDB would refuse the whole request (or, for "", make up
			// an id); the embedded store refuses these ids too.
			return porting.E(porting.KindInternal, "couchstore: RawPutMany: invalid document id "+strconv.Quote(d.ID))
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
			return porting.Wrap(porting.KindInternal, "couchstore: encode "+d.ID, err)
		}
		delete(body, "_rev")
		delete(body, "_attachments")
		body["_id"], _ = json.Marshal(d.ID)
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
	out := make([]any, len(bodies))
	for i, body := range bodies {
		if rev := revs[ids[i]]; rev != "" {
			body["_rev"], _ = json.Marshal(rev)
		}
		b, err := json.Marshal(body)
		if err != nil {
			return porting.Wrap(porting.KindInternal, "couchstore: encode "+ids[i], err)
		}
		out[i] = json.RawMessage(b)
	}
	results, err := s.db(db).BulkDocs(ctx, out, s.writeOpts()...)
	if kivik.HTTPStatus(err) == http.StatusNotFound {
		if err := s.createDB(ctx, db); err != nil {
			return storeErr(err, "")
		}
		results, err = s.db(db).BulkDocs(ctx, out, s.writeOpts()...)
	}
	if err != nil {
		return storeErr(err, "")
	}
	if len(results) != len(out) {
		return porting.E(porting.KindInternal, fmt.Sprintf(
			"couchstore: _bulk_docs of %s answered for %d of %d documents", db, len(results), len(out)))
	}
	var refused []string
	var first error
	for i, res := range results {
		if res.Error == nil {
			continue
		}
		// CouchDB answers in the order of the request; pouchdb-server
		// not always (refusals of validate_doc_update come first), so
		// the id is taken from the answer.
		id := res.ID
		if id == "" {
			id = ids[i]
		}
		if first == nil {
			first = storeErr(res.Error, id)
		}
		refused = append(refused, fmt.Sprintf("%s (%v)", id, res.Error))
	}
	if first != nil {
		return porting.Wrap(porting.KindOf(first), fmt.Sprintf("couchstore: RawPutMany into %s: %d of %d documents refused: %s",
			db, len(refused), len(out), strings.Join(refused, ", ")), first)
	}
	return nil
}

// currentRevs returns the revisions of the live documents among ids, from
// one _all_docs request; a missing database has none.
func (s *Store) currentRevs(ctx context.Context, db string, ids []string) (map[string]string, error) {
	revs := make(map[string]string, len(ids))
	rs := s.db(db).AllDocs(ctx, kivik.Param("keys", ids))
	defer rs.Close()
	for rs.Next() {
		var v struct {
			Rev     string `json:"rev"`
			Deleted bool   `json:"deleted"`
		}
		if err := rs.ScanValue(&v); err != nil {
			continue // an id never written: its row is an error
		}
		if id, err := rs.ID(); err == nil && !v.Deleted && v.Rev != "" {
			revs[id] = v.Rev
		}
	}
	if err := rs.Err(); err != nil {
		if kivik.HTTPStatus(err) == http.StatusNotFound {
			return revs, nil
		}
		return nil, storeErr(err, "")
	}
	return revs, nil
}

// RawGetMany reads the live documents of ids with one _all_docs request
// (include_docs); a missing database holds none.
func (s *Store) RawGetMany(ctx context.Context, db string, ids []string) (map[string]*porting.RawDoc, error) {
	out := make(map[string]*porting.RawDoc, len(ids))
	if exists, err := s.dbExists(ctx, db, false); err != nil || !exists {
		return out, err
	}
	err := allDocs(ctx, s.db(db), ids, func(raw json.RawMessage) error {
		doc, err := porting.SplitRaw(raw)
		if err != nil {
			return porting.Wrap(porting.KindInternal, "couchstore: decode a document of "+db, err)
		}
		out[doc.ID] = doc
		return nil
	}, encodingInfo)
	if err != nil {
		return nil, err
	}
	return out, nil
}
