// Package kazoo is Kazoo's persistence written once, above a document
// engine (package engine): the databases, document shapes and design
// documents Kazoo uses, so that portreqd and a Kazoo cluster can replicate
// to each other. Every database operation goes through engine.Engine, so
// the same code runs on CouchDB (engine/couch) and embedded (engine/bolt).
// Everything it returns is a domain error from package porting.
package kazoo

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/views"
)

// Database names, before Options.Prefix is applied. They are Kazoo's names.
const (
	dbAccounts     = "accounts"
	dbPortRequests = "port_requests"
	// dbClaims holds one document per number held by an active request,
	// _id = the E.164 number. Kazoo has no such database; portreqd needs it
	// because creating a document with a fixed id is CouchDB's only atomic
	// test-and-set, also across replicas.
	dbClaims = "port_number_claims"
)

// pingTimeout bounds a health check so that /healthz answers quickly when
// the engine hangs.
const pingTimeout = 2 * time.Second

// Options configures Open.
type Options struct {
	// Prefix is prepended to every database name so that test runs sharing
	// one server stay apart ("t1234_" → "t1234_accounts"); "" in
	// production, where the names must be Kazoo's.
	Prefix string
	// Logger receives start-up events; nil logs nothing.
	Logger *zap.Logger
	// KazooDesigns installs Kazoo-compatible design documents where a
	// database has none (design_kazoo.go): set it on CouchDB, which a
	// Kazoo site may read or replicate. The embedded engine, which no
	// Kazoo reads, leaves it unset: it maintains every view on every
	// write.
	KazooDesigns bool
	// MaxDocumentBytes bounds an encoded port request; 0: the default,
	// DefaultMaxDocumentBytes.
	MaxDocumentBytes int
}

// DefaultMaxDocumentBytes keeps port requests well below CouchDB's default
// max_document_size (8 MB): a larger document is refused by CouchDB, and
// one written elsewhere can never replicate to it.
const DefaultMaxDocumentBytes = 4 << 20

// Store is a porting.Store on an engine. It is safe for concurrent use.
type Store struct {
	eng    engine.Engine
	log    *zap.Logger
	prefix string
	known  sync.Map // Kazoo names of databases known to exist (dbExists)
	// designs is what Open decided about Kazoo's design documents;
	// designed holds the on-demand databases whose Kazoo design
	// documents this process has seen to.
	maxDoc   int
	designs  *designSet
	designed sync.Map
	// perClass holds portreqd's own design document of each class of
	// per-account database (views.OwnPerClass); ownDesigned the databases
	// in which this process has seen it installed.
	perClass    map[string]views.DesignDoc
	ownDesigned sync.Map
}

var (
	_ porting.Store    = (*Store)(nil)
	_ porting.RawStore = (*Store)(nil)
)

// db is the engine's name of Kazoo database name.
func (s *Store) db(name string) string { return s.prefix + name }

// Ping answers nil only when the engine answers and the accounts database
// is there.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := s.eng.Ping(ctx); err != nil {
		return storeErr(err, "")
	}
	ok, err := s.eng.DBExists(ctx, s.db(dbAccounts))
	if err == nil && !ok {
		err = engine.ErrNotFound
	}
	return storeErr(err, "")
}

// Close closes the engine: the Store owns it once Open succeeded.
func (s *Store) Close() error { return s.eng.Close() }
