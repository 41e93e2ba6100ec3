package couchstore

import (
	"context"
	"encoding/json"
	"net/http"

	kivik "github.com/go-kivik/kivik/v4"

	"github.com/portreqd/portreqd/pkg/porting"
)

// GetClaims reads the claim documents of numbers in one _all_docs request;
// a number without a live claim (never claimed, released) is absent.
func (s *Store) GetClaims(ctx context.Context, numbers []string) (map[string]*porting.Claim, error) {
	out := map[string]*porting.Claim{}
	err := allDocs(ctx, s.claims, numbers, func(raw json.RawMessage) error {
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

// CreateClaims writes every claim in one _bulk_docs request. Each document
// has a fixed id and no _rev, so CouchDB stores it only if no live claim
// exists and answers conflict otherwise; that per-document answer is what
// makes two concurrent claims of one number never both succeed.
func (s *Store) CreateClaims(ctx context.Context, claims []*porting.Claim) ([]string, error) {
	taken := []string{}
	if len(claims) == 0 {
		return taken, nil
	}
	docs := make([]any, len(claims))
	for i, c := range claims {
		doc := *c
		doc.Rev = ""
		if doc.Type == "" {
			doc.Type = porting.ClaimType
		}
		docs[i] = doc
	}
	results, err := s.bulkDocs(ctx, dbClaims, docs, false)
	if err != nil {
		return nil, err
	}
	// Match answers by id, never by position: pouchdb-server may answer
	// conflicts before successes, and a claim taken for free (or the other
	// way round) would break the one-request-per-number guarantee. The same
	// number twice in one call: CouchDB stores the first and refuses the
	// rest, so a success goes to the earliest claim of that id and a
	// conflict to the latest not yet answered.
	pending := make(map[string][]*porting.Claim, len(claims))
	for _, c := range claims {
		pending[c.Number] = append(pending[c.Number], c)
	}
	answered := 0
	for _, res := range results {
		q := pending[res.ID]
		if len(q) == 0 {
			return nil, porting.E(porting.KindInternal, "couchstore: _bulk_docs answered for an unknown claim "+res.ID)
		}
		answered++
		switch res.Error {
		case "":
			c := q[0]
			pending[res.ID] = q[1:]
			c.Rev = res.Rev
			if c.Type == "" {
				c.Type = porting.ClaimType
			}
		case "conflict":
			c := q[len(q)-1]
			pending[res.ID] = q[:len(q)-1]
			taken = append(taken, c.Number)
		default:
			return nil, porting.E(porting.KindInternal, "couchstore: claim "+res.ID+": "+res.Error+": "+res.Reason)
		}
	}
	if answered != len(claims) {
		return nil, porting.E(porting.KindInternal, "couchstore: _bulk_docs answered for a different number of claims")
	}
	return taken, nil
}

// DeleteClaims removes each claim at its Rev in one _bulk_docs request. A
// conflict means the claim was released or re-taken meanwhile, by a request
// that now owns it, so it is left alone.
func (s *Store) DeleteClaims(ctx context.Context, claims []*porting.Claim) error {
	docs := make([]any, 0, len(claims))
	for _, c := range claims {
		if c.Rev == "" {
			continue // never stored by us
		}
		docs = append(docs, map[string]any{"_id": c.Number, "_rev": c.Rev, "_deleted": true})
	}
	if len(docs) == 0 {
		return nil
	}
	results, err := s.bulkDocs(ctx, dbClaims, docs, true)
	if err != nil {
		return err
	}
	for _, res := range results {
		switch res.Error {
		case "", "conflict", "not_found":
		default:
			return porting.E(porting.KindInternal, "couchstore: release claim "+res.ID+": "+res.Error+": "+res.Reason)
		}
	}
	return nil
}

// allDocs reads the documents ids of db with _all_docs (POST with keys) and
// calls fn for each one that exists and is not deleted. A missing database
// holds no documents.
func allDocs(ctx context.Context, db *kivik.DB, ids []string, fn func(json.RawMessage) error, opts ...kivik.Option) error {
	if len(ids) == 0 {
		return nil
	}
	rs := db.AllDocs(ctx, append([]kivik.Option{kivik.Param("keys", ids), kivik.IncludeDocs()}, opts...)...)
	defer rs.Close()
	for rs.Next() {
		var raw json.RawMessage
		if err := rs.ScanDoc(&raw); err != nil {
			continue // a missing or deleted key: its row has an error or no doc
		}
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		if err := fn(raw); err != nil {
			return err
		}
	}
	if err := rs.Err(); err != nil {
		if kivik.HTTPStatus(err) == http.StatusNotFound {
			return nil
		}
		return storeErr(err, "")
	}
	return nil
}
