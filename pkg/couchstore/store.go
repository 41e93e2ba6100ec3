// Package couchstore keeps portreqd's documents in CouchDB exactly as Kazoo
// does (same databases, document shapes and design documents), so that a
// portreqd deployment and a Kazoo cluster can replicate to each other. It is
// the only package that talks to CouchDB; everything it returns is a domain
// error from package porting.
package couchstore

import (
	"context"
	"github.com/go-kivik/kivik/v4/couchdb/chttp"
	"net/http"
	"sync"
	"time"

	kivik "github.com/go-kivik/kivik/v4"
	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/porting"
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
// CouchDB hangs instead of refusing connections.
const pingTimeout = 2 * time.Second

// Options configures Open.
type Options struct {
	// URL of the CouchDB server, credentials in the userinfo
	// (http://admin:secret@127.0.0.1:5984).
	URL string
	// Prefix is prepended to every database name so that test runs sharing
	// one server stay apart ("t1234_" → "t1234_accounts"); "" in production,
	// where the names must be Kazoo's.
	Prefix string
	// Logger receives start-up events; nil logs nothing.
	Logger *zap.Logger
}

// Store is a porting.Store on CouchDB. It is safe for concurrent use.
type Store struct {
	client    *kivik.Client
	raw       *chttp.Client // view reads that bypass kivik's row decoding
	transport *http.Transport
	log       *zap.Logger
	prefix    string
	accounts  *kivik.DB
	requests  *kivik.DB
	claims    *kivik.DB
	known     sync.Map // names of databases known to exist (dbExists)
	// writeN is the w of every write: the number of shard copies on a
	// cluster, so that an acknowledged write is on all of them (quorum.go).
	writeN int
	// docBase is the server's URL without credentials, for document reads
	// built without chttp (docread.go).
	docBase string
}

var _ porting.Store = (*Store)(nil)

// db addresses a database by its Kazoo name. Always going through kivik
// matters: it escapes names such as "numbers/+1202" in the path.
func (s *Store) db(name string) *kivik.DB { return s.client.DB(s.prefix + name) }

// Ping answers nil only when CouchDB answers for the accounts database with
// the configured credentials: GET / would succeed even with a wrong password,
// and /_up does not exist on pouchdb-server.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	_, err := s.accounts.Stats(ctx)
	return storeErr(err, "")
}

// Close releases the connections to CouchDB.
func (s *Store) Close() error {
	err := s.client.Close()
	s.transport.CloseIdleConnections()
	return err
}
