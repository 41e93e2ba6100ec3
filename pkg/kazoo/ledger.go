package kazoo

import (
	"context"
	"encoding/json"

	"github.com/portreqd/portreqd/pkg/porting"
)

// CreateTransaction stores t in its account's monthly database (Kazoo's
// account/xx/xx/xxxx-YYYYMM, created on first use as Kazoo does at the
// turn of a month). The fixed id makes a retried completion charge only
// once: the second write is KindConflict. It sets t.Rev.
func (s *Store) CreateTransaction(ctx context.Context, t *porting.Transaction) error {
	if t.ID == "" || t.DB == "" {
		return porting.E(porting.KindInternal, "kazoo: transaction without id or database")
	}
	doc := *t
	doc.Rev = ""
	body, err := encode(doc, "transaction")
	if err != nil {
		return err
	}
	rev, err := s.createDoc(ctx, t.DB, t.ID, body)
	if err != nil {
		return err
	}
	t.Rev = rev
	return nil
}

// DeleteTransaction removes t at t.Rev from its monthly database.
func (s *Store) DeleteTransaction(ctx context.Context, t *porting.Transaction) error {
	return s.deleteDoc(ctx, t.DB, t.ID, t.Rev)
}

// GetTransaction reads transaction id of its monthly database.
func (s *Store) GetTransaction(ctx context.Context, db, id string) (*porting.Transaction, error) {
	raw, err := s.getDoc(ctx, db, id)
	if err != nil {
		return nil, err
	}
	var t porting.Transaction
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, porting.Wrap(porting.KindInternal, "decode transaction", err)
	}
	t.DB = db
	return &t, nil
}
