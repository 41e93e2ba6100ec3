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
