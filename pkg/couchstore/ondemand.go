package couchstore

import (
	"context"
	"encoding/json"
	"net/http"

	kivik "github.com/go-kivik/kivik/v4"
)

// Kazoo creates number databases (numbers/<prefix>) and monthly account
// databases (account/xx/xx/xxxx-YYYYMM) when the first document goes in;
// portreqd does the same rather than creating them at Open.

// createDoc PUTs a new document (body without _rev) into db, creating the
// database when CouchDB says it is missing: a document PUT answers 404 only
// for a missing database, so the common case costs one request and needs no
// cache of known databases that could go stale. KindConflict when id exists.
func (s *Store) createDoc(ctx context.Context, db, id string, body []byte) (string, error) {
	rev, err := s.db(db).Put(ctx, id, json.RawMessage(body))
	if kivik.HTTPStatus(err) == http.StatusNotFound {
		if err := s.createDB(ctx, db); err != nil {
			return "", storeErr(err, "")
		}
		rev, err = s.db(db).Put(ctx, id, json.RawMessage(body))
	}
	if err != nil {
		return "", storeErr(err, id)
	}
	return rev, nil
}

// createDB creates a database on demand; 412 means a concurrent writer
// created it first, which is as good.
func (s *Store) createDB(ctx context.Context, name string) error {
	err := s.client.CreateDB(ctx, s.prefix+name)
	if kivik.HTTPStatus(err) == http.StatusPreconditionFailed {
		return nil
	}
	return err
}
