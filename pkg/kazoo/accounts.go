package kazoo

import (
	"context"
	"encoding/json"
	"strings"

	"go.uber.org/zap"

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

// putAccount writes the account where Kazoo keeps it: the copy in
// `accounts` (whose revision a.Rev names: the views portreqd and Kazoo
// query are there), then the account's own database (Kazoo's primary
// copy, which its crossbar reads), the same body at that copy's own
// revision. A failure after the first write leaves the account database
// behind until the next write of the account or the next start
// (backfillAccountDBs).
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
	return s.mirrorAccount(ctx, a.ID, body)
}

// mirrorAccount makes the account database of id hold body (an account
// document; its _rev is the accounts copy's and is dropped, and so are its
// attachments), creating the database, with Kazoo's design documents, on
// first use.
func (s *Store) mirrorAccount(ctx context.Context, id string, body []byte) error {
	return s.saveCopy(ctx, porting.AccountDB(id), id, body)
}

// copyRetries bounds the read-write loop of saveCopy when the copy changes
// under it (Kazoo, or another replica, saving the same document).
const copyRetries = 5

// saveCopy makes id of database db hold body, whatever revision is there
// (none: a create), as Kazoo's ensure_saved keeps its copies: body's own
// _rev (another copy's) and attachments are dropped. The database is
// created, with Kazoo's design documents, on first use.
func (s *Store) saveCopy(ctx context.Context, db, id string, body []byte) error {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return porting.Wrap(porting.KindInternal, "encode "+id, err)
	}
	// Attachments (an account's LOA logo) stay on the copy portreqd reads.
	delete(doc, "_attachments")
	if _, err := s.dbExists(ctx, db, true); err != nil {
		return err
	}
	var lastErr error
	for range copyRetries {
		delete(doc, "_rev")
		cur, err := s.eng.Get(ctx, s.db(db), id, engine.GetOptions{})
		switch {
		case isNotFound(err):
		case err != nil:
			return storeErr(err, id)
		default:
			doc["_rev"] = mustJSON(revOf(cur))
		}
		b, err := json.Marshal(doc)
		if err != nil {
			return porting.Wrap(porting.KindInternal, "encode "+id, err)
		}
		_, err = s.eng.Put(ctx, s.db(db), id, b)
		if isConflict(err) {
			lastErr = err
			continue
		}
		return storeErr(err, id)
	}
	return storeErr(lastErr, id)
}

// deleteCopy removes id of database db at whatever revision is there; a
// missing copy (or database) is no error.
func (s *Store) deleteCopy(ctx context.Context, db, id string) error {
	var lastErr error
	for range copyRetries {
		cur, err := s.eng.Get(ctx, s.db(db), id, engine.GetOptions{})
		if isNotFound(err) {
			return nil
		}
		if err != nil {
			return storeErr(err, id)
		}
		_, err = s.eng.Delete(ctx, s.db(db), id, revOf(cur))
		if isConflict(err) {
			lastErr = err
			continue
		}
		if isNotFound(err) {
			return nil
		}
		return storeErr(err, id)
	}
	return storeErr(lastErr, id)
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

// AccountsByRealm lists the ids of the accounts whose realm is realm,
// without regard to case.
func (s *Store) AccountsByRealm(ctx context.Context, realm string) ([]string, error) {
	ids := []string{}
	err := s.query(ctx, viewAccountByRealm, engine.Query{Key: mustJSON(strings.ToLower(realm))}, func(r engine.Row) error {
		ids = append(ids, r.ID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
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

// backfillAccountDBs gives every account of `accounts` that has no
// account database one, holding its document: earlier portreqd versions
// wrote `accounts` only, where Kazoo's crossbar does not read an account.
// One listing of the databases and one pass over `accounts` per start.
func (s *Store) backfillAccountDBs(ctx context.Context) error {
	names, err := s.eng.AllDBs(ctx)
	if err != nil {
		return storeErr(err, "")
	}
	exists := make(map[string]bool, len(names))
	for _, n := range names {
		exists[n] = true
	}
	var last []byte
	for {
		q := engine.Query{IncludeDocs: true, Limit: rawPage}
		if last != nil {
			q.StartKey, q.Skip = last, 1
		}
		n := 0
		var missing [][]byte
		err := s.eng.AllDocs(ctx, s.db(dbAccounts), q, func(r engine.Row) error {
			n++
			last = mustJSON(r.ID)
			if _, ok, err := decodeAccount(r.Doc); err != nil || !ok {
				return nil // not an account, or one no one can read: nothing to copy
			}
			if !exists[s.db(porting.AccountDB(r.ID))] {
				missing = append(missing, r.Doc)
			}
			return nil
		})
		if err != nil {
			return storeErr(err, "")
		}
		for _, doc := range missing {
			var h struct {
				ID string `json:"_id"`
			}
			_ = json.Unmarshal(doc, &h)
			// pouchdb-server lists names holding "/" mangled: ask.
			if _, err := s.eng.Get(ctx, s.db(porting.AccountDB(h.ID)), h.ID, engine.GetOptions{}); err == nil {
				continue
			} else if !isNotFound(err) {
				return storeErr(err, h.ID)
			}
			if err := s.mirrorAccount(ctx, h.ID, doc); err != nil {
				return err
			}
			s.log.Info("account copied into its account database", zap.String("account_id", h.ID))
		}
		if n < rawPage {
			return nil
		}
	}
}

// WhitelabelPortAuthority reads port.authority of the whitelabel document
// in account id's database, as Kazoo 4.3's kzd_whitelabel does: a raw
// account id, or an account database name in either form, counts;
// anything else (Kazoo 4.0 kept e-mail addresses there) names no account.
func (s *Store) WhitelabelPortAuthority(ctx context.Context, id string) (string, error) {
	raw, err := s.eng.Get(ctx, s.db(porting.AccountDB(id)), "whitelabel", engine.GetOptions{})
	if isNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", storeErr(err, "whitelabel")
	}
	var wl struct {
		Port struct {
			Authority any `json:"authority"`
		} `json:"port"`
		Deleted bool `json:"pvt_deleted"`
	}
	if json.Unmarshal(raw, &wl) != nil || wl.Deleted {
		return "", nil
	}
	name, _ := wl.Port.Authority.(string)
	name = strings.NewReplacer("%2F", "", "%2f", "", "/", "").Replace(strings.TrimPrefix(strings.TrimPrefix(name, "account%2F"), "account/"))
	if !porting.IsID(name) {
		return "", nil
	}
	return name, nil
}
