package boltstore

import (
	"bytes"
	"context"
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/portreqd/portreqd/pkg/porting"
)

// CreateAccount stores a new account document; KindConflict when the id
// exists. It sets a.Rev.
func (s *Store) CreateAccount(ctx context.Context, a *porting.Account) error {
	if a.ID == "" {
		return porting.E(porting.KindInternal, "boltstore: account without id")
	}
	doc := *a
	doc.Rev = ""
	return s.putAccount(ctx, &doc, a, create)
}

// UpdateAccount replaces the account at a.Rev; KindConflict when the
// revision is missing or stale. It sets a.Rev.
func (s *Store) UpdateAccount(ctx context.Context, a *porting.Account) error {
	if a.Rev == "" {
		return conflict()
	}
	doc := *a
	return s.putAccount(ctx, &doc, a, update)
}

func (s *Store) putAccount(ctx context.Context, doc, a *porting.Account, mode writeMode) error {
	rev, err := s.putValue(ctx, dbAccounts, a.ID, a.Rev, doc, mode)
	if err != nil {
		return err
	}
	a.Rev = rev
	return nil
}

// GetAccount reads one account; KindNotFound when it does not exist, is
// soft-deleted (pvt_deleted, as Kazoo marks it) or is no account document.
func (s *Store) GetAccount(ctx context.Context, id string) (*porting.Account, error) {
	var a *porting.Account
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		a, err = decodeAccount(getDoc(tx, dbAccounts, id))
		return err
	})
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, porting.NotFound(id)
	}
	return a, nil
}

// AccountByAPIKey finds the account owning key (the first by id if several
// do); KindNotFound if none.
func (s *Store) AccountByAPIKey(ctx context.Context, key string) (*porting.Account, error) {
	if key == "" {
		return nil, porting.NotFound(key)
	}
	accts, err := s.indexedAccounts(ctx, idxAccountsByAPIKey, tuple{}.str(key), 1)
	if err != nil {
		return nil, err
	}
	if len(accts) == 0 {
		return nil, porting.NotFound(key)
	}
	return accts[0], nil
}

// ChildAccounts lists the direct children of id, ordered by name then id.
func (s *Store) ChildAccounts(ctx context.Context, id string) ([]*porting.Account, error) {
	return s.accountsUnder(ctx, idxAccountChildren, id)
}

// DescendantAccounts lists every account below id, ordered by name then id.
func (s *Store) DescendantAccounts(ctx context.Context, id string) ([]*porting.Account, error) {
	return s.accountsUnder(ctx, idxAccountDescendants, id)
}

// accountsUnder reads an index keyed T(ancestor, name) ‖ id. The key order
// is already name then id; porting.SortAccounts settles names the key
// escaping reorders, as every store does.
func (s *Store) accountsUnder(ctx context.Context, index []byte, id string) ([]*porting.Account, error) {
	accts, err := s.indexedAccounts(ctx, index, tuple{}.str(id), 0)
	if err != nil {
		return nil, err
	}
	porting.SortAccounts(accts)
	return accts, nil
}

// MasterAccount is the oldest super-duper admin root account (ties by id);
// KindNotFound when none exists yet.
func (s *Store) MasterAccount(ctx context.Context) (*porting.Account, error) {
	accts, err := s.indexedAccounts(ctx, idxAccountSuperDuper, nil, 1)
	if err != nil {
		return nil, err
	}
	if len(accts) == 0 {
		return nil, porting.NotFound("master account")
	}
	return accts[0], nil
}

// indexedAccounts reads the accounts of the index entries starting with
// prefix, in key order, up to limit (0 = all). The document id is the key
// after its last string part; for the superduper index, after 8 bytes.
func (s *Store) indexedAccounts(ctx context.Context, index, prefix []byte, limit int) ([]*porting.Account, error) {
	out := []*porting.Account{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(index).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			id, ok := indexedID(index, k[len(prefix):])
			if !ok {
				continue
			}
			a, err := decodeAccount(getDoc(tx, dbAccounts, id))
			if err != nil {
				return err
			}
			if a != nil {
				out = append(out, a)
			}
			if limit > 0 && len(out) >= limit {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// indexedID is the document id at the end of an accounts index key, given
// the key after the prefix the query matched.
func indexedID(index, rest []byte) (string, bool) {
	switch {
	case bytes.Equal(index, idxAccountsByAPIKey):
		return string(rest), true
	case bytes.Equal(index, idxAccountSuperDuper):
		_, id, ok := readI64(rest)
		return string(id), ok
	default: // T(ancestor, name) ‖ id, prefix T(ancestor)
		_, id, ok := readStr(rest)
		return string(id), ok
	}
}

// decodeAccount reads an account document; nil for none (absent, wrong
// pvt_type, soft-deleted).
func decodeAccount(raw []byte) (*porting.Account, error) {
	if raw == nil {
		return nil, nil
	}
	var head struct {
		Type    string          `json:"pvt_type"`
		Deleted json.RawMessage `json:"pvt_deleted"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, porting.Wrap(porting.KindInternal, "decode account", err)
	}
	if head.Type != "account" || jsTruthy(head.Deleted) {
		return nil, nil
	}
	a := &porting.Account{}
	if err := json.Unmarshal(raw, a); err != nil {
		return nil, porting.Wrap(porting.KindInternal, "decode account", err)
	}
	return a, nil
}
