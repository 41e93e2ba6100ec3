package couchstore

import (
	"context"
	"encoding/json"

	kivik "github.com/go-kivik/kivik/v4"

	"github.com/portreqd/portreqd/pkg/porting"
)

// CreateAccount stores a new account document; KindConflict when the id
// exists. It sets a.Rev.
func (s *Store) CreateAccount(ctx context.Context, a *porting.Account) error {
	if a.ID == "" {
		return porting.E(porting.KindInternal, "couchstore: account without id")
	}
	doc := *a
	doc.Rev = "" // a PUT without _rev creates or conflicts
	return s.putAccount(ctx, &doc, a)
}

// UpdateAccount replaces the account at a.Rev; KindConflict when the revision
// is stale. It sets a.Rev.
func (s *Store) UpdateAccount(ctx context.Context, a *porting.Account) error {
	if a.Rev == "" {
		// Without a revision CouchDB would create a missing document.
		return porting.E(porting.KindConflict, "datastore conflict")
	}
	doc := *a
	return s.putAccount(ctx, &doc, a)
}

func (s *Store) putAccount(ctx context.Context, doc, a *porting.Account) error {
	body, err := json.Marshal(doc)
	if err != nil {
		return porting.Wrap(porting.KindInternal, "encode account", err)
	}
	rev, err := s.put(ctx, dbAccounts, a.ID, doc.Rev, body)
	if err != nil {
		return storeErr(err, a.ID)
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
	var raw json.RawMessage
	if err := s.accounts.Get(ctx, id).ScanDoc(&raw); err != nil {
		return nil, storeErr(err, id)
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
	accts, err := s.queryAccounts(ctx, viewAccountByAPIKey, map[string]any{"key": key, "limit": 1})
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

// accountsUnder reads a view keyed [ancestor, name, id]. The rows come in
// the server's collation, which differs between CouchDB (ICU) and
// pouchdb-server (code points) for mixed case; porting.SortAccounts makes
// every backend answer alike.
func (s *Store) accountsUnder(ctx context.Context, v viewRef, id string) ([]*porting.Account, error) {
	accts, err := s.queryAccounts(ctx, v, map[string]any{
		"startkey": []any{id},
		"endkey":   []any{id, map[string]any{}},
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
	accts, err := s.queryAccounts(ctx, viewAccountSuperDuper, map[string]any{"limit": 1})
	if err != nil {
		return nil, err
	}
	if len(accts) == 0 {
		return nil, porting.NotFound("master account")
	}
	return accts[0], nil
}

// queryAccounts reads a view of the accounts database with its documents.
func (s *Store) queryAccounts(ctx context.Context, v viewRef, params map[string]any) ([]*porting.Account, error) {
	params["include_docs"] = true
	rs := s.db(v.DB).Query(ctx, v.Design, v.View, kivik.Params(params))
	defer rs.Close()
	out := []*porting.Account{}
	for rs.Next() {
		var raw json.RawMessage
		if err := rs.ScanDoc(&raw); err != nil {
			return nil, storeErr(err, "")
		}
		a, ok, err := decodeAccount(raw)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, a)
		}
	}
	if err := rs.Err(); err != nil {
		return nil, storeErr(err, "")
	}
	return out, nil
}

// decodeAccount reads an account document; ok is false for a document that
// is none (wrong pvt_type, soft-deleted, null from a vanished row).
func decodeAccount(raw json.RawMessage) (*porting.Account, bool, error) {
	var head struct {
		Type    string `json:"pvt_type"`
		Deleted bool   `json:"pvt_deleted"`
	}
	if len(raw) == 0 || string(raw) == "null" {
		return nil, false, nil
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
