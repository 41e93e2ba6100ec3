package kazoo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/requestjson"
)

// CreateRequest stores a new port request; KindConflict when the id exists.
// It sets r.Rev.
func (s *Store) CreateRequest(ctx context.Context, r *porting.Request) error {
	if r.ID == "" {
		return porting.E(porting.KindInternal, "kazoo: port request without id")
	}
	doc := *r
	doc.Rev = ""          // a write without _rev creates or conflicts
	doc.Attachments = nil // stubs of a new document would name nothing stored
	return s.putRequest(ctx, &doc, r)
}

// UpdateRequest replaces the document at r.Rev; KindConflict when the
// revision is stale. r.Attachments go out as stubs, which the engine
// answers by keeping the stored bodies, so an edit never loses an upload.
func (s *Store) UpdateRequest(ctx context.Context, r *porting.Request) error {
	if r.Rev == "" {
		return conflict()
	}
	doc := *r
	return s.putRequest(ctx, &doc, r)
}

func (s *Store) maxDocBytes() int {
	if s.maxDoc > 0 {
		return s.maxDoc
	}
	return DefaultMaxDocumentBytes
}

func (s *Store) putRequest(ctx context.Context, doc, r *porting.Request) error {
	body, err := encode(doc, "port request")
	if err != nil {
		return err
	}
	if max := s.maxDocBytes(); len(body) > max {
		return &porting.Error{Kind: porting.KindTooLarge, Message: "document too large", Data: map[string]any{
			"message": fmt.Sprintf("the port request would be %d bytes; at most %d", len(body), max)}}
	}
	rev, err := s.put(ctx, dbPortRequests, r.ID, body)
	if err != nil {
		return err
	}
	r.Rev = rev
	return nil
}

// GetRequest reads one port request, soft-deleted ones included (the
// service decides what a deleted request means for the call). A document
// of another type, design documents included, is KindNotFound: ids come
// from clients.
func (s *Store) GetRequest(ctx context.Context, id string) (*porting.Request, error) {
	raw, err := s.GetRequestDoc(ctx, id)
	if err != nil {
		return nil, err
	}
	r, err := requestjson.Decode(raw)
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
	return s.getDoc(ctx, dbPortRequests, id)
}

// GetRequestDocUnlessRev is GetRequestDoc, except that it answers
// unchanged (and no document) when the current revision of id is rev: one
// conditional read (engine.GetOptions.IfNoneMatch; CouchDB answers 304
// without the body), checked by the engine on every call.
func (s *Store) GetRequestDocUnlessRev(ctx context.Context, id, rev string) ([]byte, bool, error) {
	if rev == "" {
		raw, err := s.GetRequestDoc(ctx, id)
		return raw, false, err
	}
	if id == "" || strings.HasPrefix(id, "_") {
		return nil, false, porting.NotFound(id)
	}
	raw, err := s.eng.Get(ctx, s.db(dbPortRequests), id, engine.GetOptions{IfNoneMatch: rev})
	if errors.Is(err, engine.ErrNotModified) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, storeErr(err, id)
	}
	return raw, false, nil
}

// RequestsByNumber lists the undeleted requests carrying number e164, in
// document id order.
func (s *Store) RequestsByNumber(ctx context.Context, e164 string) ([]*porting.Request, error) {
	out := []*porting.Request{}
	seen := map[string]bool{}
	err := s.VisitRequestDocsByNumber(ctx, e164, func(id, doc []byte) error {
		r, err := requestjson.Decode(doc)
		if err != nil {
			// A document Kazoo or a person broke must not fail the check.
			s.log.Warn("port request skipped: it does not decode", zap.ByteString("request_id", id), zap.Error(err))
			return nil
		}
		if r == nil || r.Deleted || seen[r.ID] {
			return nil
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
// holds for e164, as stored (porting.RequestDocsByNumber: package rows
// decodes them through its document cache).
func (s *Store) VisitRequestDocsByNumber(ctx context.Context, e164 string, fn func(id, doc []byte) error) error {
	q := engine.Query{Key: mustJSON(e164), IncludeDocs: true}
	return s.query(ctx, viewRequestsByNumber, q, func(row engine.Row) error {
		if row.Doc == nil {
			return nil // the document vanished since the index saw it
		}
		return fn([]byte(row.ID), row.Doc)
	})
}

// ActiveHolders asks the port_in_numbers view for every number at once.
// Claims, not this view, keep portreqd's own writers apart.
func (s *Store) ActiveHolders(ctx context.Context, numbers []string) (map[string][]porting.NumberHolder, error) {
	out := map[string][]porting.NumberHolder{}
	if len(numbers) == 0 {
		return out, nil
	}
	keys := make([][]byte, len(numbers))
	for i, n := range numbers {
		keys[i] = mustJSON(n)
	}
	err := s.query(ctx, viewActivePortInNumbers, engine.Query{Keys: keys}, func(row engine.Row) error {
		var number, account string
		if json.Unmarshal(row.Key, &number) != nil {
			return nil
		}
		_ = json.Unmarshal(row.Value, &account)
		out[number] = append(out[number], porting.NumberHolder{RequestID: row.ID, AccountID: account})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
