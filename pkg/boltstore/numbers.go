package boltstore

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/portreqd/portreqd/pkg/porting"
)

// GetNumbers reads number documents from Kazoo's number databases
// (numbers/<first 5 chars>); a database never written holds no numbers.
func (s *Store) GetNumbers(ctx context.Context, numbers []string) (map[string]*porting.PhoneNumber, error) {
	out := map[string]*porting.PhoneNumber{}
	err := s.view(ctx, func(tx *bolt.Tx) error { return getNumbers(tx, numbers, out) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

func getNumbers(tx *bolt.Tx, numbers []string, out map[string]*porting.PhoneNumber) error {
	for _, n := range numbers {
		raw := getDoc(tx, porting.NumberDB(n), n)
		if raw == nil {
			continue
		}
		var pn porting.PhoneNumber
		if err := json.Unmarshal(raw, &pn); err != nil {
			return porting.Wrap(porting.KindInternal, "decode number", err)
		}
		if pn.Number != "" {
			out[pn.Number] = &pn
		}
	}
	return nil
}

// CreateNumber stores n in its number database, created on first use as
// Kazoo does; KindConflict when the number exists. It sets n.Rev.
func (s *Store) CreateNumber(ctx context.Context, n *porting.PhoneNumber) error {
	if n.Number == "" {
		return porting.E(porting.KindInternal, "boltstore: number without id")
	}
	doc := *n
	doc.Rev = ""
	rev, err := s.createDoc(ctx, porting.NumberDB(n.Number), n.Number, doc)
	if err != nil {
		return err
	}
	n.Rev = rev
	return nil
}

// AccountNumbers lists the numbers in service in account id that came in by
// a port, sorted. The all_port_in_numbers index names the candidates; the
// number documents decide, since a number may have moved on since its
// request completed.
func (s *Store) AccountNumbers(ctx context.Context, accountID string) ([]*porting.PhoneNumber, error) {
	out := []*porting.PhoneNumber{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		prefix := tuple{}.str(accountID)
		var candidates []string
		c := tx.Bucket(idxAccountNumbers).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			n, _, ok := readStr(k[len(prefix):])
			if ok && !slices.Contains(candidates, n) {
				candidates = append(candidates, n)
			}
		}
		found := map[string]*porting.PhoneNumber{}
		if err := getNumbers(tx, candidates, found); err != nil {
			return err
		}
		for _, n := range found {
			if n.AssignedTo == accountID && n.State == porting.NumberInService {
				out = append(out, n)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b *porting.PhoneNumber) int { return cmp.Compare(a.Number, b.Number) })
	return out, nil
}

// CreateTransaction stores t in its account's monthly database (Kazoo's
// account/xx/xx/xxxx-YYYYMM, created on first use). The fixed id makes a
// retried completion charge only once: the second write is KindConflict.
// It sets t.Rev.
func (s *Store) CreateTransaction(ctx context.Context, t *porting.Transaction) error {
	if t.ID == "" || t.DB == "" {
		return porting.E(porting.KindInternal, "boltstore: transaction without id or database")
	}
	doc := *t
	doc.Rev = ""
	rev, err := s.createDoc(ctx, t.DB, t.ID, doc)
	if err != nil {
		return err
	}
	t.Rev = rev
	return nil
}

// DeleteNumber removes n at n.Rev from its number database.
func (s *Store) DeleteNumber(ctx context.Context, n *porting.PhoneNumber) error {
	return s.removeDoc(ctx, porting.NumberDB(n.Number), n.Number, n.Rev)
}

// DeleteTransaction removes t at t.Rev from its monthly database.
func (s *Store) DeleteTransaction(ctx context.Context, t *porting.Transaction) error {
	return s.removeDoc(ctx, t.DB, t.ID, t.Rev)
}

// removeDoc deletes id of db at rev; without a revision it is a conflict.
func (s *Store) removeDoc(ctx context.Context, db, id, rev string) error {
	if id == "" || rev == "" {
		return porting.E(porting.KindConflict, "datastore conflict")
	}
	return s.write(ctx, func(tx *bolt.Tx) error { return deleteDoc(tx, db, id, rev) })
}

// createDoc stores a new document v as id of db; KindConflict if it exists.
func (s *Store) createDoc(ctx context.Context, db, id string, v any) (string, error) {
	fields, err := marshalFields(v)
	if err != nil {
		return "", err
	}
	var rev string
	err = s.write(ctx, func(tx *bolt.Tx) error {
		var err error
		rev, err = putDoc(tx, db, id, fields.Clone(), create, "")
		return err
	})
	return rev, err
}
