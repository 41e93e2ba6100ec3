package couchstore

import (
	"context"
	"net/http"

	kivik "github.com/go-kivik/kivik/v4"
)

// Kazoo creates number databases (numbers/<prefix>) and monthly account
// databases (account/xx/xx/xxxx-YYYYMM) when the first document goes in;
// portreqd does the same rather than creating them at Open.

// dbExists tells whether an on-demand database exists, creating it first
// when create is set. A request with a body must not be the one that finds
// a database missing: Apache CouchDB answers 404 before it reads the body
// and closes the connection, and the unread body then resets it, so the
// client sees "connection reset by peer" instead of the 404 (seen on
// 3.4.3 for _all_docs with keys and for document PUTs). So such requests
// go out only after a HEAD (no body) has found the database, and databases
// found are remembered: they are never deleted while portreqd runs (if one
// is, the 404 fallbacks below still apply).
func (s *Store) dbExists(ctx context.Context, db string, create bool) (bool, error) {
	if _, ok := s.known.Load(db); ok {
		return true, nil
	}
	exists, err := s.client.DBExists(ctx, s.prefix+db)
	if err != nil {
		return false, storeErr(err, "")
	}
	if !exists && create {
		if err := s.createDB(ctx, db); err != nil {
			return false, storeErr(err, "")
		}
		exists = true
	}
	if exists {
		s.known.Store(db, true)
	}
	return exists, nil
}

// createDoc PUTs a new document (body without _rev) into db, creating the
// database first when it is missing (dbExists). KindConflict when id exists.
func (s *Store) createDoc(ctx context.Context, db, id string, body []byte) (string, error) {
	if _, err := s.dbExists(ctx, db, true); err != nil {
		return "", err
	}
	rev, err := s.put(ctx, db, id, "", body)
	if kivik.HTTPStatus(err) == http.StatusNotFound {
		if err := s.createDB(ctx, db); err != nil {
			return "", storeErr(err, "")
		}
		rev, err = s.put(ctx, db, id, "", body)
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
