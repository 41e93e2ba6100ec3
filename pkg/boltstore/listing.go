package boltstore

import (
	"bytes"
	"context"
	"math"

	bolt "go.etcd.io/bbolt"

	"github.com/portreqd/portreqd/pkg/porting"
)

// ListRequests reads the by_state (or by_descendant_state) index backwards
// from the page's upper bound: keys T(account, state) ‖ modified ‖ id, so
// rows come modified desc, id desc, as couchstore reads its views. A page
// costs one seek and Limit+1 steps, whatever the number of documents.
//
// The bounds are couchstore's: To (inclusive) caps modified; a cursor with
// an id resumes strictly after (cursor.Modified, cursor.ID); a cursor
// without one is an inclusive timestamp; From (inclusive) ends the read.
func (s *Store) ListRequests(ctx context.Context, q porting.ListQuery) (*porting.ListPage, error) {
	index := idxRequestsByState
	if q.Descendants {
		index = idxRequestsByDescendant
	}
	prefix := tuple{}.str(q.Account).str(string(q.State))
	top, bounded := q.To, q.To != 0
	if q.After != nil && (!bounded || q.After.Modified < top) {
		top, bounded = q.After.Modified, true
	}
	page := &porting.ListPage{Docs: [][]byte{}}
	if bounded && top < q.From {
		return page, nil
	}
	var start []byte // the read starts at the last key below start
	switch {
	case q.After != nil && q.After.ID != "" && q.After.Modified == top:
		start = tuple(bytes.Clone(prefix)).i64(top).tail(q.After.ID)
	case bounded && top < math.MaxInt64:
		start = tuple(bytes.Clone(prefix)).i64(top + 1)
	default:
		start = after(prefix)
	}
	want := 0 // rows to collect; 0 = all
	if q.Limit > 0 {
		want = q.Limit + 1 // one more tells whether a next page exists
	}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(dbPortRequests))
		if b == nil {
			return nil
		}
		// One cursor for every document and one buffer for their copies:
		// a Get per row and a Clone per row were a third of a page's CPU in
		// allocations alone (profiled).
		docs := b.Cursor()
		var arena []byte
		if want > 0 {
			arena = make([]byte, 0, want*2048)
		}
		c := tx.Bucket(index).Cursor()
		k, _ := c.Seek(start)
		if k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Prev() {
			m, id, ok := readI64(k[len(prefix):])
			if !ok || m < q.From {
				break
			}
			k, doc := docs.Seek(id)
			if !bytes.Equal(k, id) || doc == nil {
				continue // the index is written with the document; defensive
			}
			from := len(arena)
			arena = append(arena, doc...)
			page.Docs = append(page.Docs, arena[from:len(arena):len(arena)])
			if want > 0 && len(page.Docs) >= want {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if want > 0 && len(page.Docs) > q.Limit {
		page.Docs = page.Docs[:q.Limit]
		page.More = true
	}
	return page, nil
}
