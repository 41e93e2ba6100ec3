package kazoo

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/porting"
)

// listBatchMin is the fewest rows one view read asks for when a page is
// bounded: a cursor inside a crowded second drops rows here, and tiny reads
// would then cost one round trip per few rows.
const listBatchMin = 20

// VisitRequests reads listing_by_state (or listing_by_descendant_state)
// backwards, keys [account, state, modified], so rows come newest first
// and, within one modified second, by document id descending: equal keys
// collate by id and descending reverses that.
//
// A cursor is not handed to the engine as startkey_docid, which
// pouchdb-server (a CouchDB stand-in) ignores. So the read starts at the
// cursor's second and the rows of that second at or above the cursor's id
// are dropped here, reading on until the page is full. Reads after the
// first resume at the last key seen with skip = rows of that key already
// read, which stays cheap however many rows share one second.
func (s *Store) VisitRequests(ctx context.Context, q porting.ListQuery, fn func(id, rev []byte, load func() []byte) error) (bool, error) {
	v := viewRequestsByState
	switch {
	case q.ByAuthority:
		v = viewRequestsByAuthorityState
	case q.Descendants:
		v = viewRequestsByDescendantState
	}
	var high any = map[string]any{} // sorts after every number
	top, bounded := q.To, q.To != 0
	cur := q.After
	if cur != nil {
		if !bounded || cur.Modified < top {
			high, top, bounded = cur.Modified, cur.Modified, true
		} else {
			high = top
		}
	} else if bounded {
		high = top
	}
	if bounded && top < q.From {
		return false, nil // CouchDB answers 400 to a reversed range
	}
	want := 0 // rows to collect; 0 = all
	if q.Limit > 0 {
		want = q.Limit + 1 // one more tells whether a next page exists
	}
	local := false
	if l, ok := s.eng.(engine.LocalReads); ok {
		local = l.LocalReads()
	}
	r := &listRead{
		store: s, view: v, cursor: cur, docs: !local,
		start: mustJSON([]any{q.Account, q.State, high}),
		end:   mustJSON([]any{q.Account, q.State, q.From}),
	}
	rows := make([]listRow, 0, want)
	for {
		batch := 0
		if want > 0 {
			batch = max(want-len(rows), listBatchMin)
		}
		n, err := r.read(ctx, batch, &rows)
		if err != nil {
			return false, err
		}
		if batch == 0 || n < batch || len(rows) >= want {
			break
		}
	}
	more := false
	if want > 0 && len(rows) > q.Limit {
		rows, more = rows[:q.Limit], true
	}
	if local {
		return more, s.visitByRev(ctx, rows, fn)
	}
	for _, row := range rows {
		// The documents came with the view: no revision is needed to
		// avoid reading them.
		if err := fn([]byte(row.id), nil, func() []byte { return row.doc }); err != nil {
			return false, err
		}
	}
	return more, nil
}

// visitByRev hands out the rows of a listing read without documents (a
// local engine: engine.LocalReads) with the revisions the listing views
// emit as values, so that the caller's cache answers for documents it
// holds and only the others are read (and copied) from the engine.
func (s *Store) visitByRev(ctx context.Context, rows []listRow, fn func(id, rev []byte, load func() []byte) error) error {
	for _, row := range rows {
		id := row.id
		load := func() []byte {
			doc, err := s.eng.Get(ctx, s.db(dbPortRequests), id, engine.GetOptions{})
			if err != nil {
				return nil // gone meanwhile: the listing leaves it out
			}
			return doc
		}
		if err := fn([]byte(id), row.rev, load); err != nil {
			return err
		}
	}
	return nil
}

// listRow is a row read for a listing.
type listRow struct {
	id  string
	doc []byte // with include_docs
	rev []byte // without: the revision the view emitted as its value
}

// listRead is the state of one listing across view reads.
type listRead struct {
	store      *Store
	view       viewRef
	cursor     *porting.Cursor
	docs       bool // include_docs: the rows bring their documents
	start, end []byte
	skip       int // rows of key start already read
}

// read reads up to limit rows (0 = all) from r.start, appends the documents
// that belong on the page to out and moves r past the rows read. It
// returns the number of view rows read.
func (r *listRead) read(ctx context.Context, limit int, out *[]listRow) (int, error) {
	q := engine.Query{Descending: true, IncludeDocs: r.docs, StartKey: r.start, EndKey: r.end, Limit: limit, Skip: r.skip}
	n := 0
	err := r.store.query(ctx, r.view, q, func(row engine.Row) error {
		n++
		if bytes.Equal(row.Key, r.start) {
			r.skip++
		} else {
			r.start, r.skip = bytes.Clone(row.Key), 1
		}
		if c := r.cursor; c != nil && c.ID != "" && keyModified(row.Key) == c.Modified && row.ID >= c.ID {
			return nil // shown on an earlier page
		}
		if r.docs && row.Doc == nil {
			return nil // the document vanished since the index saw it
		}
		lr := listRow{id: row.ID, doc: row.Doc}
		if !r.docs {
			lr.rev = revValue(row.Value) // nil: the document is read (a view of an older definition)
		}
		*out = append(*out, lr)
		return nil
	})
	return n, err
}

// revValue is the revision a listing view emits as its value, "N-<hex>"
// as a JSON string without escapes (revisions have none); nil for anything
// else. It is read for every row of every page: no decoder.
func revValue(v []byte) []byte {
	if len(v) < 3 || v[0] != '"' || v[len(v)-1] != '"' || bytes.IndexByte(v, '\\') >= 0 {
		return nil
	}
	return v[1 : len(v)-1]
}

// keyModified is the modified member of a listing key [_, _, modified]; -1
// when it is no integer.
func keyModified(key []byte) int64 {
	var parts []json.RawMessage
	var m int64
	if json.Unmarshal(key, &parts) != nil || len(parts) < 3 || json.Unmarshal(parts[2], &m) != nil {
		return -1
	}
	return m
}

// CompletionIntents lists the requests whose documents carry a completion
// intent, oldest first.
func (s *Store) CompletionIntents(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.query(ctx, viewCompletionIntents, engine.Query{}, func(r engine.Row) error {
		ids = append(ids, r.ID)
		return nil
	})
	return ids, err
}
