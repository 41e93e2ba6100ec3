package kazoo

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/porting"
)

// listBatchMin is the fewest rows one view read asks for when a page is
// bounded: a cursor inside a crowded second drops rows here, and tiny reads
// would then cost one round trip per few rows.
const listBatchMin = 20

// ListRequests reads listing_by_state (or listing_by_descendant_state, or
// listing_by_authority_state) backwards, keys [account, state, modified],
// so rows come newest first and, within one modified second, by document
// id descending: equal keys collate by id and descending reverses that.
// The views emit [revision, account] as values, so a listing is read from
// the index alone; RequestDocs reads the documents a caller lacks.
//
// A cursor is not handed to the engine as startkey_docid, which
// pouchdb-server (a CouchDB stand-in) ignores. So the read starts at the
// cursor's second and the rows of that second at or above the cursor's id
// are dropped here, reading on until the page is full. Reads after the
// first resume at the last key seen with skip = rows of that key already
// read, which stays cheap however many rows share one second.
func (s *Store) ListRequests(ctx context.Context, q porting.ListQuery) ([]porting.ListRow, bool, error) {
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
		return nil, false, nil // CouchDB answers 400 to a reversed range
	}
	want := 0 // rows to collect; 0 = all
	if q.Limit > 0 {
		want = q.Limit + 1 // one more tells whether a next page exists
	}
	r := &listRead{
		store: s, view: v, cursor: cur,
		start: mustJSON([]any{q.Account, q.State, high}),
		end:   mustJSON([]any{q.Account, q.State, q.From}),
	}
	rows := make([]porting.ListRow, 0, want)
	for {
		batch := 0
		if want > 0 {
			batch = max(want-len(rows), listBatchMin)
		}
		n, err := r.read(ctx, batch, &rows)
		if err != nil {
			return nil, false, err
		}
		if batch == 0 || n < batch || len(rows) >= want {
			break
		}
	}
	more := false
	if want > 0 && len(rows) > q.Limit {
		rows, more = rows[:q.Limit], true
	}
	return rows, more, nil
}

// RequestDocs reads the documents of ids: one _all_docs read on a remote
// engine, one read each on a local one.
func (s *Store) RequestDocs(ctx context.Context, ids []string, fn func(id string, doc []byte) error) error {
	db := s.db(dbPortRequests)
	if l, ok := s.eng.(engine.LocalReads); ok && l.LocalReads() {
		for _, id := range ids {
			doc, err := s.eng.Get(ctx, db, id, engine.GetOptions{})
			if isNotFound(err) {
				continue // gone meanwhile
			}
			if err != nil {
				return storeErr(err, "")
			}
			if err := fn(id, doc); err != nil {
				return err
			}
		}
		return nil
	}
	if len(ids) == 0 {
		return nil
	}
	keys := make([][]byte, len(ids))
	for i, id := range ids {
		keys[i] = mustJSON(id)
	}
	var failed error
	err := s.eng.AllDocs(ctx, db, engine.Query{Keys: keys, IncludeDocs: true}, func(r engine.Row) error {
		if r.Doc == nil {
			return nil // missing, or deleted since the index saw it
		}
		if err := fn(r.ID, r.Doc); err != nil {
			failed = err
			return err
		}
		return nil
	})
	if failed != nil {
		return failed
	}
	return storeErr(err, "")
}

// listRead is the state of one listing across view reads.
type listRead struct {
	store      *Store
	view       viewRef
	cursor     *porting.Cursor
	start, end []byte
	skip       int // rows of key start already read
}

// read reads up to limit rows (0 = all) from r.start, appends those that
// belong on the page to out and moves r past the rows read. It returns the
// number of view rows read.
func (r *listRead) read(ctx context.Context, limit int, out *[]porting.ListRow) (int, error) {
	q := engine.Query{Descending: true, StartKey: r.start, EndKey: r.end, Limit: limit, Skip: r.skip}
	n := 0
	err := r.store.query(ctx, r.view, q, func(row engine.Row) error {
		n++
		if bytes.Equal(row.Key, r.start) {
			r.skip++
		} else {
			r.start, r.skip = bytes.Clone(row.Key), 1
		}
		modified := keyModified(row.Key)
		if c := r.cursor; c != nil && c.ID != "" && modified == c.Modified && row.ID >= c.ID {
			return nil // shown on an earlier page
		}
		lr := porting.ListRow{ID: row.ID, Modified: modified}
		lr.Rev, lr.AccountID = listValue(row.Value)
		*out = append(*out, lr)
		return nil
	})
	return n, err
}

// listValue reads a listing view's value, [revision, account]; empty
// strings for anything else (an index of an older definition), which
// leaves the caller to read the document. It runs for every row of every
// page: revisions and account ids carry no escapes, so the usual value is
// split by hand and only anything else goes to the decoder.
func listValue(v []byte) (rev, account string) {
	if r, a, ok := bytes.Cut(v, []byte(`","`)); ok && bytes.HasPrefix(r, []byte(`["`)) && bytes.HasSuffix(a, []byte(`"]`)) &&
		bytes.IndexByte(v, '\\') < 0 && bytes.Count(v, []byte{'"'}) == 4 {
		return string(r[2:]), string(a[:len(a)-2])
	}
	var pair [2]string
	if json.Unmarshal(v, &pair) != nil {
		return "", ""
	}
	return pair[0], pair[1]
}

// keyModified is the modified member of a listing key [_, _, modified]; -1
// when it is no integer. The key ends in that integer, so it is read from
// the end; strconv rejects anything else, which goes to the decoder.
func keyModified(key []byte) int64 {
	if i := bytes.LastIndexByte(key, ','); i > 0 && bytes.HasSuffix(key, []byte("]")) {
		if m, err := strconv.ParseInt(string(key[i+1:len(key)-1]), 10, 64); err == nil {
			return m
		}
	}
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
