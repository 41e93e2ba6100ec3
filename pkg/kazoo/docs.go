package kazoo

import (
	"context"
	"encoding/json"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/porting"
)

// Document helpers shared by every concern: writes, on-demand databases,
// reads by keys and view queries.

// put writes body (its _rev names the revision replaced; none: a create)
// as id of Kazoo database db.
func (s *Store) put(ctx context.Context, db, id string, body []byte) (string, error) {
	rev, err := s.eng.Put(ctx, s.db(db), id, body)
	return rev, storeErr(err, id)
}

// Kazoo creates number databases (numbers/<prefix>) and monthly account
// databases (account/xx/xx/xxxx-YYYYMM) when the first document goes in;
// portreqd does the same rather than creating them at Open.

// dbExists tells whether an on-demand database exists, creating it first
// when create is set. Databases found are remembered: they are never
// deleted while portreqd runs (if one is, createDoc still recreates it).
func (s *Store) dbExists(ctx context.Context, db string, create bool) (bool, error) {
	exists := false
	if _, ok := s.known.Load(db); ok {
		if !create || !s.needsDesigns(db) {
			return true, nil
		}
		exists = true
	} else {
		var err error
		if exists, err = s.eng.DBExists(ctx, s.db(db)); err != nil {
			return false, storeErr(err, "")
		}
	}
	if !exists && create {
		if err := s.eng.CreateDB(ctx, s.db(db)); err != nil {
			return false, storeErr(err, "")
		}
		exists = true
	}
	if exists && create && s.needsDesigns(db) {
		// Where portreqd writes, Kazoo's views must be there to find it.
		if err := s.installKazooDesigns(ctx, db); err != nil {
			return false, storeErr(err, "")
		}
		s.designed.Store(db, true)
	}
	if exists {
		s.known.Store(db, true)
	}
	return exists, nil
}

// needsDesigns tells whether on-demand database db may still lack Kazoo's
// design documents.
func (s *Store) needsDesigns(db string) bool {
	if s.designs == nil || !s.designs.install {
		return false
	}
	_, done := s.designed.Load(db)
	return !done
}

// createDoc writes a new document (body without _rev) into db, creating
// the database first when it is missing. KindConflict when id exists.
func (s *Store) createDoc(ctx context.Context, db, id string, body []byte) (string, error) {
	if _, err := s.dbExists(ctx, db, true); err != nil {
		return "", err
	}
	rev, err := s.eng.Put(ctx, s.db(db), id, body)
	if isNotFound(err) { // deleted behind our back
		s.known.Delete(db)
		s.designed.Delete(db)
		if _, err := s.dbExists(ctx, db, true); err != nil {
			return "", err
		}
		rev, err = s.eng.Put(ctx, s.db(db), id, body)
	}
	return rev, storeErr(err, id)
}

// deleteDoc deletes id of db at rev; without a revision it is a conflict,
// never a blind delete.
func (s *Store) deleteDoc(ctx context.Context, db, id, rev string) error {
	if id == "" || rev == "" {
		return conflict()
	}
	_, err := s.eng.Delete(ctx, s.db(db), id, rev)
	if isNotFound(err) {
		// A server that answers a revision it never saw with not found
		// (pouchdb-server): the document being there makes it the
		// conflict CouchDB reports.
		if _, gerr := s.eng.Get(ctx, s.db(db), id, engine.GetOptions{}); gerr == nil {
			return porting.Wrap(porting.KindConflict, "datastore conflict", err)
		}
	}
	return storeErr(err, id)
}

// getDoc reads id of db as stored; KindNotFound when missing or deleted.
func (s *Store) getDoc(ctx context.Context, db, id string) ([]byte, error) {
	raw, err := s.eng.Get(ctx, s.db(db), id, engine.GetOptions{})
	return raw, storeErr(err, id)
}

// docsByID reads the live documents ids of db in one _all_docs request and
// calls fn with each. A missing database holds no documents.
func (s *Store) docsByID(ctx context.Context, db string, ids []string, fn func(doc []byte) error) error {
	return s.docsByIDWith(ctx, db, ids, engine.Query{}, fn)
}

// docsByIDWith is docsByID with the document options of q
// (AttEncodingInfo).
func (s *Store) docsByIDWith(ctx context.Context, db string, ids []string, q engine.Query, fn func(doc []byte) error) error {
	if len(ids) == 0 {
		return nil
	}
	keys := make([][]byte, len(ids))
	for i, id := range ids {
		keys[i] = mustJSON(id)
	}
	q.Keys, q.IncludeDocs = keys, true
	err := s.eng.AllDocs(ctx, s.db(db), q, func(r engine.Row) error {
		if len(r.Doc) == 0 || string(r.Doc) == "null" {
			return nil
		}
		return fn(r.Doc)
	})
	if isNotFound(err) {
		return nil
	}
	return storeErr(err, "")
}

// query reads view v with q, calling fn for each row.
func (s *Store) query(ctx context.Context, v viewRef, q engine.Query, fn func(engine.Row) error) error {
	return storeErr(s.eng.Query(ctx, s.db(v.DB), v.Design, v.View, q, fn), "")
}

// encode marshals a document; what is an error message's subject.
func encode(v any, what string) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, porting.Wrap(porting.KindInternal, "encode "+what, err)
	}
	return b, nil
}

// mustJSON encodes a key built of strings and numbers, which cannot fail.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("kazoo: encode key: " + err.Error())
	}
	return b
}

// revOf is the _rev member of a stored document.
func revOf(doc []byte) string {
	var h struct {
		Rev string `json:"_rev"`
	}
	_ = json.Unmarshal(doc, &h)
	return h.Rev
}
