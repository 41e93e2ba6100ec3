package couchstore

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"

	kivik "github.com/go-kivik/kivik/v4"

	"github.com/portreqd/portreqd/pkg/porting"
)

// GetNumbers reads number documents from Kazoo's number databases, one
// _all_docs request per database (numbers/<first 5 chars>). A database that
// does not exist yet holds no numbers.
func (s *Store) GetNumbers(ctx context.Context, numbers []string) (map[string]*porting.PhoneNumber, error) {
	byDB := map[string][]string{}
	for _, n := range numbers {
		db := porting.NumberDB(n)
		if !slices.Contains(byDB[db], n) {
			byDB[db] = append(byDB[db], n)
		}
	}
	out := map[string]*porting.PhoneNumber{}
	for db, ids := range byDB {
		if exists, err := s.dbExists(ctx, db, false); err != nil {
			return nil, err
		} else if !exists {
			continue
		}
		err := allDocs(ctx, s.db(db), ids, func(raw json.RawMessage) error {
			var n porting.PhoneNumber
			if err := json.Unmarshal(raw, &n); err != nil {
				return porting.Wrap(porting.KindInternal, "decode number", err)
			}
			if n.Number != "" {
				out[n.Number] = &n
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// CreateNumber stores n in its number database, creating the database on
// first use as Kazoo does; KindConflict when the number exists. It sets
// n.Rev.
func (s *Store) CreateNumber(ctx context.Context, n *porting.PhoneNumber) error {
	if n.Number == "" {
		return porting.E(porting.KindInternal, "couchstore: number without id")
	}
	doc := *n
	doc.Rev = ""
	body, err := json.Marshal(doc)
	if err != nil {
		return porting.Wrap(porting.KindInternal, "encode number", err)
	}
	rev, err := s.createDoc(ctx, porting.NumberDB(n.Number), n.Number, body)
	if err != nil {
		return err
	}
	n.Rev = rev
	return nil
}

// DeleteNumber removes n at n.Rev from its number database.
func (s *Store) DeleteNumber(ctx context.Context, n *porting.PhoneNumber) error {
	return s.deleteDoc(ctx, porting.NumberDB(n.Number), n.Number, n.Rev)
}

// deleteDoc deletes id of db at rev; without a revision it is a conflict,
// never a blind delete.
func (s *Store) deleteDoc(ctx context.Context, db, id, rev string) error {
	if id == "" || rev == "" {
		return porting.E(porting.KindConflict, "datastore conflict")
	}
	err := s.remove(ctx, db, id, rev)
	if kivik.HTTPStatus(err) == http.StatusNotFound {
		// pouchdb-server answers a revision it never saw with 404; the
		// document being there makes it the conflict CouchDB reports.
		if _, gerr := s.db(db).GetRev(ctx, id); gerr == nil {
			return porting.Wrap(porting.KindConflict, "datastore conflict", err)
		}
	}
	return storeErr(err, id)
}

// AccountNumbers lists the numbers in service in account id that came in by
// a port, sorted. The requests' all_port_in_numbers view names the
// candidates; the number documents decide, since a number may have moved
// on since its request completed.
func (s *Store) AccountNumbers(ctx context.Context, accountID string) ([]*porting.PhoneNumber, error) {
	v := viewPortInNumbers
	rs := s.db(v.DB).Query(ctx, v.Design, v.View, kivik.Params(map[string]any{
		"startkey": []any{accountID},
		"endkey":   []any{accountID, map[string]any{}},
	}))
	defer rs.Close()
	var candidates []string
	for rs.Next() {
		var key []string
		if err := rs.ScanKey(&key); err == nil && len(key) == 2 && !slices.Contains(candidates, key[1]) {
			candidates = append(candidates, key[1])
		}
	}
	if err := rs.Err(); err != nil {
		return nil, storeErr(err, "")
	}
	found, err := s.GetNumbers(ctx, candidates)
	if err != nil {
		return nil, err
	}
	out := []*porting.PhoneNumber{}
	for _, n := range found {
		if n.AssignedTo == accountID && n.State == porting.NumberInService {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b *porting.PhoneNumber) int { return cmp.Compare(a.Number, b.Number) })
	return out, nil
}
