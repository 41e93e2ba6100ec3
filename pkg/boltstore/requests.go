package boltstore

import (
	"bytes"
	"context"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/portreqd/portreqd/pkg/porting"
)

// CreateRequest stores a new port request; KindConflict when the id exists.
// It sets r.Rev.
func (s *Store) CreateRequest(ctx context.Context, r *porting.Request) error {
	if r.ID == "" {
		return porting.E(porting.KindInternal, "boltstore: port request without id")
	}
	doc := *r
	doc.Rev = ""
	doc.Attachments = nil // stubs of a new document would name nothing stored
	return s.putRequest(ctx, &doc, r, create)
}

// UpdateRequest replaces the document at r.Rev, keeping the attachments
// r.Attachments names; KindConflict when the revision is missing or stale.
// It sets r.Rev.
func (s *Store) UpdateRequest(ctx context.Context, r *porting.Request) error {
	if r.Rev == "" {
		return conflict()
	}
	doc := *r
	return s.putRequest(ctx, &doc, r, update)
}

func (s *Store) putRequest(ctx context.Context, doc, r *porting.Request, mode writeMode) error {
	rev, err := s.putValue(ctx, dbPortRequests, r.ID, r.Rev, doc, mode)
	if err != nil {
		return err
	}
	r.Rev = rev
	return nil
}

// GetRequest reads one port request, soft-deleted ones included. Another
// type of document is KindNotFound: ids come from clients.
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
// stored (a copy), soft-deleted ones included.
func (s *Store) GetRequestDoc(ctx context.Context, id string) ([]byte, error) {
	if id == "" || strings.HasPrefix(id, "_") {
		return nil, porting.NotFound(id)
	}
	var raw []byte
	err := s.view(ctx, func(tx *bolt.Tx) error {
		raw = bytes.Clone(getDoc(tx, dbPortRequests, id))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, porting.NotFound(id)
	}
	return raw, nil
}

// RequestsByNumber lists the undeleted requests carrying number e164, in
// document id order (the listing_by_number index).
func (s *Store) RequestsByNumber(ctx context.Context, e164 string) ([]*porting.Request, error) {
	out := []*porting.Request{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		prefix := tuple{}.str(e164)
		c := tx.Bucket(idxRequestsByNumber).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			r, err := porting.DecodeRequest(getDoc(tx, dbPortRequests, string(k[len(prefix):])))
			if err != nil || r == nil || r.Deleted {
				continue // a document Kazoo or a person broke must not fail the check
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ActiveHolders reads the port_in_numbers index for each number: the
// submitted, pending or scheduled requests carrying it, by request id.
func (s *Store) ActiveHolders(ctx context.Context, numbers []string) (map[string][]porting.NumberHolder, error) {
	out := map[string][]porting.NumberHolder{}
	if len(numbers) == 0 {
		return out, nil
	}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(idxActiveNumbers).Cursor()
		for _, n := range numbers {
			prefix := tuple{}.str(n)
			for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
				out[n] = append(out[n], porting.NumberHolder{RequestID: string(k[len(prefix):]), AccountID: string(v)})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
