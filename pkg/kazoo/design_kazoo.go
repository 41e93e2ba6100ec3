package kazoo

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strings"

	"go.uber.org/zap"

	"github.com/portreqd/portreqd/views"
)

// Kazoo's design documents. portreqd queries only its own
// (_design/portreqd); Kazoo queries its own ids (_design/accounts,
// _design/port_requests, _design/numbers, …). Where Kazoo shares the
// databases, its copies are there and stay untouched; where portreqd
// starts first, or alone, it installs Kazoo-compatible copies (package
// views, kazoo/) so that a Kazoo site reading or replicating these
// databases finds every view it queries. The only stored design
// documents portreqd replaces or removes under Kazoo's ids are the ones
// earlier portreqd versions installed there (views/legacy), recognised by
// their content.

// designSet is what Open decided about Kazoo's design documents.
type designSet struct {
	// install says to install Kazoo's (Options.KazooDesigns); without it
	// the legacy copies are removed and nothing is installed.
	install bool
	byClass map[string][]views.DesignDoc
	// legacy holds the canonical form of each legacy copy, by database
	// and id.
	legacy map[string][][]byte
}

func loadDesigns(install bool) (*designSet, error) {
	ds := &designSet{install: install, byClass: map[string][]views.DesignDoc{}, legacy: map[string][][]byte{}}
	legacy, err := views.Legacy()
	if err != nil {
		return nil, err
	}
	for _, d := range legacy {
		c, err := canonical(d.Doc)
		if err != nil {
			return nil, err
		}
		ds.legacy[d.DB+"\x00"+d.ID] = append(ds.legacy[d.DB+"\x00"+d.ID], c)
	}
	if install {
		kz, err := views.Kazoo()
		if err != nil {
			return nil, err
		}
		for _, d := range kz {
			ds.byClass[d.DB] = append(ds.byClass[d.DB], d)
		}
	}
	return ds, nil
}

// isLegacy tells whether stored, found as id in database db, is a copy an
// earlier portreqd installed.
func (ds *designSet) isLegacy(db, id string, stored map[string]any) bool {
	copies := ds.legacy[db+"\x00"+id]
	if len(copies) == 0 {
		return false
	}
	have, err := canonical(stored)
	if err != nil {
		return false
	}
	for _, c := range copies {
		if bytes.Equal(have, c) {
			return true
		}
	}
	return false
}

// installKazooDesigns installs Kazoo's design documents of database db
// (a Kazoo name) where it has none, or removes portreqd's legacy copies
// when they are not to be installed.
func (s *Store) installKazooDesigns(ctx context.Context, db string) error {
	if !s.designs.install {
		return s.dropLegacyDesigns(ctx, db)
	}
	for _, d := range s.designs.byClass[dbClass(db)] {
		if err := s.installKazooDesign(ctx, db, d); err != nil {
			return err
		}
	}
	return nil
}

// installKazooDesign stores Kazoo's design document d in database db
// where it is missing, or where an earlier portreqd's copy stands
// (deleted first), at lowRevision of its content: every portreqd site
// writes the same revision for the same content, so replication between
// them sees no conflict, and Kazoo's own copy (any revision of its own:
// generation 1 with a random hash, or higher) wins over it wherever
// replication brings the two together. Any other stored copy stays.
func (s *Store) installKazooDesign(ctx context.Context, db string, d views.DesignDoc) error {
	want, err := canonical(d.Doc)
	if err != nil {
		return err
	}
	var salt []byte
	stored, same, err := s.storedDesign(ctx, db, d.ID, want)
	switch {
	case err != nil || same:
		return err
	case stored != nil:
		if !s.designs.isLegacy(db, d.ID, stored) {
			s.log.Info("design document kept as stored (not portreqd's)", zap.String("db", s.db(db)), zap.String("id", d.ID))
			return nil
		}
		rev, _ := stored["_rev"].(string)
		if _, err := s.eng.Delete(ctx, s.db(db), d.ID, rev); err != nil && !isNotFound(err) && !isConflict(err) {
			return err
		}
		// The plain low revision may be in the deleted branch's history
		// (a copy this code installed, edited since), where storing it
		// again would change nothing: the new leaf's hash also covers the
		// revision deleted.
		salt = []byte(rev)
	}
	doc := make(map[string]any, len(d.Doc)+1)
	for k, v := range d.Doc {
		doc[k] = v
	}
	doc["_rev"] = lowRevision(append(want, salt...))
	body, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	err = s.eng.PutRevision(ctx, s.db(db), d.ID, body)
	if isConflict(err) {
		return nil // another replica's copy, or another leaf: left as it is
	}
	if err != nil {
		return err
	}
	s.log.Info("design document installed", zap.String("db", s.db(db)), zap.String("id", d.ID), zap.String("rev", doc["_rev"].(string)))
	return nil
}

// lowRevision is generation 1 with a hash made of the content's MD5 (of
// key: the content, and what it replaces) behind eight zeros: the same for
// the same content everywhere, and below the hash of any revision CouchDB
// makes (an MD5, zeros first once in 2^32), which wins a tie of
// generations.
func lowRevision(key []byte) string {
	sum := md5.Sum(key)
	return "1-00000000" + hex.EncodeToString(sum[:])[:24]
}

// dropLegacyDesigns deletes the legacy copies stored in db: on an engine
// no Kazoo reads (the embedded one), they would only cost every write the
// runs of their map functions.
func (s *Store) dropLegacyDesigns(ctx context.Context, db string) error {
	prefix := db + "\x00"
	for key := range s.designs.legacy {
		id, ok := strings.CutPrefix(key, prefix)
		if !ok {
			continue
		}
		stored, _, err := s.storedDesign(ctx, db, id, nil)
		if err != nil {
			return err
		}
		if stored == nil || !s.designs.isLegacy(db, id, stored) {
			continue
		}
		rev, _ := stored["_rev"].(string)
		if _, err := s.eng.Delete(ctx, s.db(db), id, rev); err != nil && !isNotFound(err) && !isConflict(err) {
			return err
		}
		s.log.Info("design document of an earlier portreqd removed", zap.String("db", s.db(db)), zap.String("id", id))
	}
	return nil
}

var modbSuffix = regexp.MustCompile(`-\d{6}$`)

// dbClass is the class of Kazoo database db (package views): the global
// databases by name, and those Kazoo keeps per number prefix, account, and
// account and month.
func dbClass(db string) string {
	switch {
	case db == dbAccounts:
		return views.ClassAccounts
	case db == dbPortRequests:
		return views.ClassPortRequests
	case strings.HasPrefix(db, "numbers/"):
		return views.ClassNumbers
	case strings.HasPrefix(db, "account/") && modbSuffix.MatchString(db):
		return views.ClassAccountMODB
	case strings.HasPrefix(db, "account/"):
		return views.ClassAccount
	}
	return ""
}
