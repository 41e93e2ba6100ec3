package kazoo

import (
	"context"
	"encoding/json"
	"net/mail"
	"slices"
	"strings"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/porting"
)

// AccountAdminEmails are the addresses of account's admin users: Kazoo's
// user documents in the account's database with priv_level "admin", an
// email, and not disabled or deleted, the recipients teletype looks up
// for "the account's admins". None (no database, no such user) is no
// error.
func (s *Store) AccountAdminEmails(ctx context.Context, accountID string) ([]string, error) {
	db := porting.AccountDB(accountID)
	var out []string
	err := s.queryIn(ctx, db, viewUsersByPrivLevel, engine.Query{Key: mustJSON("admin")}, func(r engine.Row) error {
		var email string
		if json.Unmarshal(r.Value, &email) != nil {
			return nil
		}
		if a, err := mail.ParseAddress(strings.TrimSpace(email)); err == nil && !slices.Contains(out, a.Address) {
			out = append(out, a.Address)
		}
		return nil
	})
	if porting.IsKind(err, porting.KindNotFound) {
		return nil, nil
	}
	return out, err
}

// queryIn queries view v (of a per-account class) in database db,
// installing portreqd's design document there first when this process
// has not seen it yet. A missing database is KindNotFound.
func (s *Store) queryIn(ctx context.Context, db string, v viewRef, q engine.Query, fn func(engine.Row) error) error {
	for attempt := 0; ; attempt++ {
		if err := s.ensureOwnDesign(ctx, db, v.DB); err != nil {
			return err
		}
		err := s.eng.Query(ctx, s.db(db), v.Design, v.View, q, fn)
		if isNotFound(err) && attempt == 0 {
			// The database or the design document went since: look again.
			s.ownDesigned.Delete(db)
			continue
		}
		return storeErr(err, "")
	}
}

// ensureOwnDesign installs portreqd's design document of class in
// database db unless it is there with the same content. A missing copy is
// written at lowRevision of its content, so that sites installing it
// apart write the same revision and replication sees no conflict; an
// older copy is replaced as installDesign does.
func (s *Store) ensureOwnDesign(ctx context.Context, db, class string) error {
	if _, ok := s.ownDesigned.Load(db); ok {
		return nil
	}
	d, ok := s.perClass[class]
	if !ok {
		return porting.E(porting.KindInternal, "no design document for databases of class "+class)
	}
	exists, err := s.dbExists(ctx, db, false)
	if err != nil {
		return err
	}
	if !exists {
		return porting.NotFound(db)
	}
	want, err := canonical(d.Doc)
	if err != nil {
		return porting.Wrap(porting.KindInternal, "design document", err)
	}
	stored, same, err := s.storedDesign(ctx, db, d.ID, want)
	switch {
	case err != nil:
		return storeErr(err, "")
	case same:
	case stored == nil:
		doc := make(map[string]any, len(d.Doc)+1)
		for k, v := range d.Doc {
			doc[k] = v
		}
		doc["_rev"] = lowRevision(want)
		body, err := json.Marshal(doc)
		if err != nil {
			return porting.Wrap(porting.KindInternal, "design document", err)
		}
		if err := s.eng.PutRevision(ctx, s.db(db), d.ID, body); err != nil && !isConflict(err) {
			return storeErr(err, "")
		}
	default:
		if err := s.installDesign(ctx, db, d); err != nil {
			return storeErr(err, "")
		}
	}
	s.ownDesigned.Store(db, true)
	return nil
}

var _ porting.UserStore = (*Store)(nil)

// CreateUser stores a new user in its account's database.
func (s *Store) CreateUser(ctx context.Context, u *porting.User) error {
	doc := *u
	doc.Rev = ""
	body, err := encode(&doc, "user")
	if err != nil {
		return err
	}
	rev, err := s.createDoc(ctx, porting.AccountDB(u.AccountID), u.ID, body)
	if err != nil {
		return err
	}
	u.Rev = rev
	return nil
}

// UpdateUser replaces the user at u.Rev.
func (s *Store) UpdateUser(ctx context.Context, u *porting.User) error {
	if u.Rev == "" {
		return conflict()
	}
	body, err := encode(u, "user")
	if err != nil {
		return err
	}
	rev, err := s.put(ctx, porting.AccountDB(u.AccountID), u.ID, body)
	if err != nil {
		return err
	}
	u.Rev = rev
	return nil
}

// GetUser reads user id of account: a user document, not deleted.
func (s *Store) GetUser(ctx context.Context, accountID, id string) (*porting.User, error) {
	raw, err := s.getDoc(ctx, porting.AccountDB(accountID), id)
	if err != nil {
		return nil, err
	}
	u, ok := decodeUser(raw)
	if !ok {
		return nil, porting.NotFound(id)
	}
	return u, nil
}

// ListUsers lists account's users by id.
func (s *Store) ListUsers(ctx context.Context, accountID string) ([]*porting.User, error) {
	out := []*porting.User{}
	err := s.queryIn(ctx, porting.AccountDB(accountID), viewUsers, engine.Query{IncludeDocs: true}, func(r engine.Row) error {
		if u, ok := decodeUser(r.Doc); ok {
			out = append(out, u)
		}
		return nil
	})
	if porting.IsKind(err, porting.KindNotFound) {
		return out, nil
	}
	return out, err
}

// UserIDsByUsername lists the ids of account's users named username.
func (s *Store) UserIDsByUsername(ctx context.Context, accountID, username string) ([]string, error) {
	ids := []string{}
	err := s.queryIn(ctx, porting.AccountDB(accountID), viewUsersByUsername, engine.Query{Key: mustJSON(strings.ToLower(username))}, func(r engine.Row) error {
		ids = append(ids, r.ID)
		return nil
	})
	if porting.IsKind(err, porting.KindNotFound) {
		return ids, nil
	}
	return ids, err
}

// UserByCredentials finds account's user by Kazoo's md5 or sha hash of
// "username:password".
func (s *Store) UserByCredentials(ctx context.Context, accountID, method, credentials string) (*porting.User, error) {
	v := viewUsersByMD5
	if method == "sha" {
		v = viewUsersBySHA1
	}
	var found *porting.User
	err := s.queryIn(ctx, porting.AccountDB(accountID), v, engine.Query{Key: mustJSON(credentials), IncludeDocs: true, Limit: 1}, func(r engine.Row) error {
		if u, ok := decodeUser(r.Doc); ok {
			found = u
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, porting.NotFound("user")
	}
	return found, nil
}

// AccountsByName lists the ids of the accounts whose normalized name is
// name.
func (s *Store) AccountsByName(ctx context.Context, name string) ([]string, error) {
	ids := []string{}
	err := s.query(ctx, viewAccountByName, engine.Query{Key: mustJSON(name)}, func(r engine.Row) error {
		ids = append(ids, r.ID)
		return nil
	})
	return ids, err
}

// decodeUser reads a user document; ok is false for anything else or a
// deleted one.
func decodeUser(raw []byte) (*porting.User, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, false
	}
	var head struct {
		Type    string `json:"pvt_type"`
		Deleted bool   `json:"pvt_deleted"`
	}
	if json.Unmarshal(raw, &head) != nil || head.Type != porting.UserType || head.Deleted {
		return nil, false
	}
	u := &porting.User{}
	if json.Unmarshal(raw, u) != nil {
		return nil, false
	}
	return u, true
}
