package couchstore

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"

	kivik "github.com/go-kivik/kivik/v4"

	"github.com/portreqd/portreqd/pkg/porting"
)

// CreateRequest stores a new port request; KindConflict when the id exists.
// It sets r.Rev.
func (s *Store) CreateRequest(ctx context.Context, r *porting.Request) error {
	if r.ID == "" {
		return porting.E(porting.KindInternal, "couchstore: port request without id")
	}
	doc := *r
	doc.Rev = ""          // a PUT without _rev creates or conflicts
	doc.Attachments = nil // stubs of a new document would name nothing stored
	return s.putRequest(ctx, &doc, r)
}

// UpdateRequest replaces the document at r.Rev; KindConflict when the
// revision is stale. r.Attachments go out as stubs, which CouchDB answers by
// keeping the stored attachment bodies, so an edit never loses an upload.
func (s *Store) UpdateRequest(ctx context.Context, r *porting.Request) error {
	if r.Rev == "" {
		// Without a revision CouchDB would create a missing document.
		return porting.E(porting.KindConflict, "datastore conflict")
	}
	doc := *r
	return s.putRequest(ctx, &doc, r)
}

func (s *Store) putRequest(ctx context.Context, doc, r *porting.Request) error {
	body, err := json.Marshal(doc)
	if err != nil {
		return porting.Wrap(porting.KindInternal, "encode port request", err)
	}
	rev, err := s.put(ctx, dbPortRequests, r.ID, doc.Rev, body)
	if err != nil {
		return storeErr(err, r.ID)
	}
	r.Rev = rev
	return nil
}

// GetRequest reads one port request, soft-deleted ones included (the service
// decides what a deleted request means for the call). A document of another
// type, design documents included, is KindNotFound: ids come from clients.
func (s *Store) GetRequest(ctx context.Context, id string) (*porting.Request, error) {
	raw, err := s.GetRequestDoc(ctx, id)
	if err != nil {
		return nil, err
	}
	r, err := porting.DecodeRequest(raw)
	if err == nil && r == nil {
		err = porting.NotFound(id)
	}
	return r, err
}

// GetRequestDoc returns one document of the port_requests database as
// stored, soft-deleted ones included.
func (s *Store) GetRequestDoc(ctx context.Context, id string) ([]byte, error) {
	if id == "" || strings.HasPrefix(id, "_") {
		return nil, porting.NotFound(id)
	}
	raw, _, err := s.readDoc(ctx, dbPortRequests, id, "")
	if err != nil {
		return nil, storeErr(err, id)
	}
	return raw, nil
}

// RequestsByNumber lists the undeleted requests carrying number e164, in
// document id order.
func (s *Store) RequestsByNumber(ctx context.Context, e164 string) ([]*porting.Request, error) {
	out := []*porting.Request{}
	seen := map[string]bool{}
	err := s.VisitRequestDocsByNumber(ctx, e164, func(_, doc []byte) error {
		r, err := porting.DecodeRequest(doc)
		if err != nil || r == nil || r.Deleted || seen[r.ID] {
			return nil // a document Kazoo or a person broke must not fail the check
		}
		seen[r.ID] = true
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// VisitRequestDocsByNumber calls fn with each document the by-number view
// holds for e164, as stored. It reads the view through queryRows: kivik's
// row iterator decoded each document several times and closed the answer
// before its end, which cost a new connection to CouchDB per call.
func (s *Store) VisitRequestDocsByNumber(ctx context.Context, e164 string, fn func(id, doc []byte) error) error {
	params := url.Values{"key": {string(mustJSON(e164))}, "include_docs": {"true"}}
	err := s.queryRows(ctx, viewRequestsByNumber, params, func(id string, _, doc []byte) error {
		if doc == nil {
			return nil // the document vanished since the index saw it
		}
		return fn([]byte(id), doc)
	})
	return storeErr(err, "")
}

// ActiveHolders asks the port_in_numbers view for every number at once.
// Claims, not this view, keep portreqd's own writers apart.
func (s *Store) ActiveHolders(ctx context.Context, numbers []string) (map[string][]porting.NumberHolder, error) {
	out := map[string][]porting.NumberHolder{}
	if len(numbers) == 0 {
		return out, nil
	}
	v := viewActivePortInNumbers
	// Never stale: a stale index would both miss a request just replicated
	// in and still show one just canceled, refusing a number now free.
	rs := s.db(v.DB).Query(ctx, v.Design, v.View, kivik.Param("keys", numbers))
	defer rs.Close()
	for rs.Next() {
		var number, account string
		if err := rs.ScanKey(&number); err != nil {
			continue
		}
		_ = rs.ScanValue(&account)
		id, _ := rs.ID()
		out[number] = append(out[number], porting.NumberHolder{RequestID: id, AccountID: account})
	}
	if err := rs.Err(); err != nil {
		return nil, storeErr(err, "")
	}
	return out, nil
}
