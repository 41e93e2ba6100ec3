package couchstore

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"

	kivik "github.com/go-kivik/kivik/v4"
	"go.uber.org/zap"

	"github.com/portreqd/portreqd/views"
)

// designRetries bounds the read-compare-write loop of installDesign when
// other replicas install the same document at the same time.
const designRetries = 5

// installDesign puts d into its database unless the stored copy already has
// the same content. Rewriting an unchanged design document would make
// CouchDB rebuild every view index of the database, so the comparison
// ignores _rev and member order.
func (s *Store) installDesign(ctx context.Context, d views.DesignDoc) error {
	db := s.db(d.DB)
	want, err := canonical(d.Doc)
	if err != nil {
		return err
	}
	var err2 error
	for range designRetries {
		var stored map[string]any
		err := db.Get(ctx, d.ID).ScanDoc(&stored)
		rev := ""
		switch {
		case kivik.HTTPStatus(err) == http.StatusNotFound:
		case err != nil:
			return err
		default:
			// _rev from the body: pouchdb-server's ETag is no revision.
			rev, _ = stored["_rev"].(string)
			have, err := canonical(stored)
			if err != nil {
				return err
			}
			if bytes.Equal(have, want) {
				return nil
			}
		}
		doc := make(map[string]any, len(d.Doc)+1)
		for k, v := range d.Doc {
			doc[k] = v
		}
		if rev != "" {
			doc["_rev"] = rev
		}
		body, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		newRev, err := db.Put(ctx, d.ID, json.RawMessage(body))
		if kivik.HTTPStatus(err) == http.StatusConflict {
			err2 = err // another replica won; compare with its copy
			continue
		}
		if err != nil {
			return err
		}
		action := "installed"
		if rev != "" {
			action = "updated"
		}
		s.log.Info("couchdb design document "+action, zap.String("db", s.prefix+d.DB),
			zap.String("id", d.ID), zap.String("rev", newRev))
		return nil
	}
	return err2
}

// canonical is doc as JSON without _rev, members sorted (encoding/json sorts
// map keys), so that equal content compares equal byte for byte.
func canonical(doc map[string]any) ([]byte, error) {
	c := make(map[string]any, len(doc))
	for k, v := range doc {
		if k != "_rev" {
			c[k] = v
		}
	}
	return json.Marshal(c)
}
