package kazoo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"

	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/views"
)

// Open creates the databases portreqd needs on eng and installs its own
// design documents (views/portreqd, as _design/portreqd) and, with
// o.KazooDesigns, Kazoo-compatible ones where the database has none
// (design_kazoo.go). It is idempotent and safe to run from several
// replicas at once. On success the Store owns eng (Close closes it); on
// failure the caller still does.
func Open(ctx context.Context, eng engine.Engine, o Options) (*Store, error) {
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	s := &Store{eng: eng, log: log, prefix: o.Prefix, maxDoc: o.MaxDocumentBytes}
	// Every failure is the datastore being unavailable, as for any store:
	// the operator's problem, never the client's.
	fail := func(what string, err error) error {
		return porting.Wrap(porting.KindUnavailable, "datastore unavailable: "+what, err)
	}
	if err := eng.Ping(ctx); errors.Is(err, engine.ErrUnauthorized) {
		return nil, fail("credentials refused (check the user and password)", err)
	} else if err != nil {
		return nil, fail("no answer", err)
	}
	own, err := views.Own()
	if err != nil {
		return nil, porting.Wrap(porting.KindInternal, "design documents", err)
	}
	if s.designs, err = loadDesigns(o.KazooDesigns); err != nil {
		return nil, porting.Wrap(porting.KindInternal, "design documents", err)
	}
	perClass, err := views.OwnPerClass()
	if err != nil {
		return nil, porting.Wrap(porting.KindInternal, "design documents", err)
	}
	s.perClass = map[string]views.DesignDoc{}
	for _, d := range perClass {
		s.perClass[d.DB] = d
	}
	for _, name := range databases(own) {
		if err := s.ensureDB(ctx, name); err != nil {
			return nil, fail("database "+s.db(name), err)
		}
	}
	for _, d := range own {
		if err := s.installDesign(ctx, d.DB, d); err != nil {
			return nil, fail("design document "+s.db(d.DB)+"/"+d.ID, err)
		}
	}
	for _, name := range []string{dbAccounts, dbPortRequests} {
		if err := s.installKazooDesigns(ctx, name); err != nil {
			return nil, fail("design documents of "+s.db(name), err)
		}
		s.designed.Store(name, true)
	}
	if err := s.backfillAccountDBs(ctx); err != nil {
		return nil, fail("account databases", err)
	}
	fields := []zap.Field{zap.String("prefix", o.Prefix), zap.Bool("kazoo_designs", o.KazooDesigns)}
	if v, ok := eng.(versioner); ok {
		if vendor, version, err := v.Version(ctx); err == nil {
			fields = append(fields, zap.String("vendor", vendor), zap.String("version", version))
		}
	}
	log.Info("kazoo store open", fields...)
	return s, nil
}

// versioner is an engine that can say what server it runs on (couch).
type versioner interface {
	Version(ctx context.Context) (vendor, version string, err error)
}

// databases lists the databases Open ensures: Kazoo's global ones plus every
// target of a design document.
func databases(docs []views.DesignDoc) []string {
	names := []string{dbAccounts, dbPortRequests, dbClaims}
	for _, d := range docs {
		if !contains(names, d.DB) {
			names = append(names, d.DB)
		}
	}
	return names
}

// ensureDB creates a database unless it exists. It looks first so that a
// user who is a member but no server admin can run portreqd on databases
// an admin created.
func (s *Store) ensureDB(ctx context.Context, name string) error {
	exists, err := s.eng.DBExists(ctx, s.db(name))
	if err != nil {
		return err
	}
	if !exists {
		if err := s.eng.CreateDB(ctx, s.db(name)); err != nil {
			return err
		}
		s.log.Info("database created", zap.String("db", s.db(name)))
	}
	s.known.Store(name, true)
	return nil
}

// designRetries bounds the read-compare-write loop of installDesign when
// other replicas install the same document at the same time.
const designRetries = 5

// installDesign puts portreqd's own design document d into database db
// unless the stored copy already has the same content. Rewriting an
// unchanged design document would make the engine rebuild every view
// index of the database, so the comparison ignores _rev and member order.
func (s *Store) installDesign(ctx context.Context, db string, d views.DesignDoc) error {
	want, err := canonical(d.Doc)
	if err != nil {
		return err
	}
	var lastErr error
	for range designRetries {
		stored, same, err := s.storedDesign(ctx, db, d.ID, want)
		if err != nil || same {
			return err
		}
		rev, _ := stored["_rev"].(string)
		doc := make(map[string]any, len(d.Doc)+1)
		for k, v := range d.Doc {
			doc[k] = v
		}
		if rev != "" {
			doc["_rev"] = rev
		}
		body, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		newRev, err := s.eng.Put(ctx, s.db(db), d.ID, body)
		if errors.Is(err, engine.ErrConflict) {
			lastErr = err // another replica won; compare with its copy
			continue
		}
		if err != nil {
			return err
		}
		action := "installed"
		if rev != "" {
			action = "updated"
		}
		s.log.Info("design document "+action, zap.String("db", s.db(db)),
			zap.String("id", d.ID), zap.String("rev", newRev))
		return nil
	}
	return lastErr
}

// storedDesign reads design document id of database db (nil when there is
// none) and tells whether its content is want (canonical form).
func (s *Store) storedDesign(ctx context.Context, db, id string, want []byte) (stored map[string]any, same bool, err error) {
	raw, err := s.eng.Get(ctx, s.db(db), id, engine.GetOptions{})
	if isNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if err := json.Unmarshal(raw, &stored); err != nil {
		return nil, false, err
	}
	have, err := canonical(stored)
	if err != nil {
		return nil, false, err
	}
	return stored, bytes.Equal(have, want), nil
}

// canonical is doc as JSON without _rev, members sorted (encoding/json
// sorts map keys), so that equal content compares equal byte for byte.
func canonical(doc map[string]any) ([]byte, error) {
	c := make(map[string]any, len(doc))
	for k, v := range doc {
		if k != "_rev" {
			c[k] = v
		}
	}
	return json.Marshal(c)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
