package kazoo

import (
	"context"
	"encoding/json"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/porting"
)

// CreateAccount stores a new account document; KindConflict when the id
// exists. It sets a.Rev.
func (s *Store) CreateAccount(ctx context.Context, a *porting.Account) error {
	if a.ID == "" {
		return porting.E(porting.KindInternal, "kazoo: account without id")
	}
	doc := *a
	doc.Rev = "" // a write without _rev creates or conflicts
	return s.putAccount(ctx, &doc, a)
}

// UpdateAccount replaces the account at a.Rev; KindConflict when the
// revision is stale. It sets a.Rev.
func (s *Store) UpdateAccount(ctx context.Context, a *porting.Account) error {
	if a.Rev == "" {
		return conflict()
	}
	doc := *a
	return s.putAccount(ctx, &doc, a)
}

func (s *Store) putAccount(ctx context.Context, doc, a *porting.Account) error {
	body, err := encode(doc, "account")
	if err != nil {
		return err
	}
	rev, err := s.put(ctx, dbAccounts, a.ID, body)
	if err != nil {
		return err
	}
	a.Rev = rev
	return nil
}

// GetAccount reads one account; KindNotFound when it does not exist, is
// soft-deleted (pvt_deleted, as Kazoo marks it) or is no account document.
func (s *Store) GetAccount(ctx context.Context, id string) (*porting.Account, error) {
	if id == "" {
		return nil, porting.NotFound(id)
	}
	raw, err := s.getDoc(ctx, dbAccounts, id)
	if err != nil {
		return nil, err
	}
	a, ok, err := decodeAccount(raw)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, porting.NotFound(id)
	}
	return a, nil
}

// AccountByAPIKey finds the account owning key; KindNotFound if none.
func (s *Store) AccountByAPIKey(ctx context.Context, key string) (*porting.Account, error) {
	if key == "" {
		return nil, porting.NotFound(key)
	}
	accts, err := s.queryAccounts(ctx, viewAccountByAPIKey, engine.Query{Key: mustJSON(key), Limit: 1})
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
	return s.accountsUnder(ctx, viewAccountChildren, id)
}

// DescendantAccounts lists every account below id, ordered by name then id.
func (s *Store) DescendantAccounts(ctx context.Context, id string) ([]*porting.Account, error) {
	return s.accountsUnder(ctx, viewAccountDescendants, id)
}

// accountsUnder reads a view keyed [ancestor, name, id]. Servers collate
// mixed case differently (ICU, code points); porting.SortAccounts makes
// every engine answer alike.
func (s *Store) accountsUnder(ctx context.Context, v viewRef, id string) ([]*porting.Account, error) {
	accts, err := s.queryAccounts(ctx, v, engine.Query{
		StartKey: mustJSON([]any{id}),
		EndKey:   mustJSON([]any{id, map[string]any{}}),
	})
	if err != nil {
		return nil, err
	}
	porting.SortAccounts(accts)
	return accts, nil
}

// MasterAccount is the oldest super-duper admin root account (ties by id);
// KindNotFound when none exists yet. The view is keyed [pvt_created, id].
func (s *Store) MasterAccount(ctx context.Context) (*porting.Account, error) {
	accts, err := s.queryAccounts(ctx, viewAccountSuperDuper, engine.Query{Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(accts) == 0 {
		return nil, porting.NotFound("master account")
	}
	return accts[0], nil
}

// queryAccounts reads a view of the accounts database with its documents.
func (s *Store) queryAccounts(ctx context.Context, v viewRef, q engine.Query) ([]*porting.Account, error) {
	q.IncludeDocs = true
	out := []*porting.Account{}
	err := s.query(ctx, v, q, func(r engine.Row) error {
		a, ok, err := decodeAccount(r.Doc)
		if ok {
			out = append(out, a)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// decodeAccount reads an account document; ok is false for a document that
// is none (wrong pvt_type, soft-deleted, null from a vanished row).
func decodeAccount(raw []byte) (*porting.Account, bool, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, false, nil
	}
	var head struct {
		Type    string `json:"pvt_type"`
		Deleted bool   `json:"pvt_deleted"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, false, porting.Wrap(porting.KindInternal, "decode account", err)
	}
	if head.Type != "account" || head.Deleted {
		return nil, false, nil
	}
	a := &porting.Account{}
	if err := json.Unmarshal(raw, a); err != nil {
		return nil, false, porting.Wrap(porting.KindInternal, "decode account", err)
	}
	return a, true, nil
}
