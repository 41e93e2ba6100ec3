package kazoo

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/porting"
)

// GetNumbers reads number documents from Kazoo's number databases, one
// request per database (numbers/<first 5 chars>). A database that does not
// exist yet holds no numbers.
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
		err := s.docsByID(ctx, db, ids, func(raw []byte) error {
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
// first use as Kazoo does, and the same document in the assigned account's
// database, where Kazoo's number listings find it (knm_phone_number's
// save to the account); KindConflict when the number exists. It sets
// n.Rev (the number database's copy).
func (s *Store) CreateNumber(ctx context.Context, n *porting.PhoneNumber) error {
	if n.Number == "" {
		return porting.E(porting.KindInternal, "kazoo: number without id")
	}
	doc := *n
	doc.Rev = ""
	body, err := encode(doc, "number")
	if err != nil {
		return err
	}
	rev, err := s.createDoc(ctx, porting.NumberDB(n.Number), n.Number, body)
	if err != nil {
		return err
	}
	n.Rev = rev
	if n.AssignedTo == "" {
		return nil
	}
	return s.saveCopy(ctx, porting.AccountDB(n.AssignedTo), n.Number, body)
}

// DeleteNumber removes n at n.Rev from its number database, and its copy
// from the assigned account's database.
func (s *Store) DeleteNumber(ctx context.Context, n *porting.PhoneNumber) error {
	if err := s.deleteDoc(ctx, porting.NumberDB(n.Number), n.Number, n.Rev); err != nil {
		return err
	}
	if n.AssignedTo == "" {
		return nil
	}
	return s.deleteCopy(ctx, porting.AccountDB(n.AssignedTo), n.Number)
}

// AccountNumbers lists the numbers in service in account id that came in
// by a port, sorted. The requests' all_port_in_numbers view names the
// candidates; the number documents decide, since a number may have moved
// on since its request completed.
func (s *Store) AccountNumbers(ctx context.Context, accountID string) ([]*porting.PhoneNumber, error) {
	var candidates []string
	q := engine.Query{StartKey: mustJSON([]any{accountID}), EndKey: mustJSON([]any{accountID, map[string]any{}})}
	err := s.query(ctx, viewPortInNumbers, q, func(r engine.Row) error {
		var key []string
		if json.Unmarshal(r.Key, &key) == nil && len(key) == 2 && !slices.Contains(candidates, key[1]) {
			candidates = append(candidates, key[1])
		}
		return nil
	})
	if err != nil {
		return nil, err
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
