// Package couch is the document engine on Apache CouchDB (and, as a
// fallback for development machines, pouchdb-server), through kivik. It is
// the only importer of kivik. It adds to plain CouchDB what a cluster needs
// for writes to be safe (cluster.go, lease.go) and what CouchDB's HTTP
// interface gets wrong for odd names (transport.go).
package couch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	kivik "github.com/go-kivik/kivik/v4"
	"github.com/go-kivik/kivik/v4/couchdb" // registers the "couch" driver
	"github.com/go-kivik/kivik/v4/couchdb/chttp"
	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/engine"
)

// Options configures Open.
type Options struct {
	// URL of the server, credentials in the userinfo
	// (http://admin:secret@127.0.0.1:5984).
	URL    string
	Logger *zap.Logger
	// LeaseDB is the database of write leases on a cluster (lease.go);
	// default "portreqd_leases".
	LeaseDB string
}

// Engine is one CouchDB server (or cluster, through one of its nodes).
type Engine struct {
	client  *kivik.Client
	raw     *chttp.Client
	tr      *http.Transport
	log     *zap.Logger
	masked  string
	leaseDB string
	// dbs caches what is known of each database: its number of shard
	// copies, which also says that it exists (see ensureKnown).
	dbs sync.Map // name → int
	// revs and keyReads batch each database's revision checks and each
	// view's reads by one key (revcheck.go).
	revs     sync.Map // database → *batcher[*revCheck]
	keyReads sync.Map // view path and include_docs → *batcher[*keyRead]
}

var _ engine.Engine = (*Engine)(nil)

// Open connects to the server and checks that it answers (GET /).
func Open(ctx context.Context, o Options) (*Engine, error) {
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	e := &Engine{log: log, masked: MaskURL(o.URL), leaseDB: o.LeaseDB, tr: newTransport()}
	if e.leaseDB == "" {
		e.leaseDB = "portreqd_leases"
	}
	hc := &http.Client{Transport: plusEscaper{e.tr}}
	var err error
	e.client, err = kivik.New("couch", o.URL,
		couchdb.OptionHTTPClient(hc),
		couchdb.OptionNoRequestCompression(),
		couchdb.OptionUserAgent("portreqd"))
	if err != nil {
		return nil, e.wrap(fmt.Errorf("%w: bad URL: %v", engine.ErrBadRequest, redact(err, o.URL)))
	}
	if e.raw, err = chttp.New(hc, o.URL, couchdb.OptionUserAgent("portreqd")); err != nil {
		return nil, e.wrap(fmt.Errorf("%w: bad URL: %v", engine.ErrBadRequest, redact(err, o.URL)))
	}
	if _, err := e.client.Version(ctx); err != nil {
		_ = e.Close()
		return nil, e.wrap(mapErr(redact(err, o.URL)))
	}
	return e, nil
}

// Version says what the server says of itself.
func (e *Engine) Version(ctx context.Context) (vendor, version string, err error) {
	v, err := e.client.Version(ctx)
	if err != nil {
		return "", "", mapErr(err)
	}
	return v.Vendor, v.Version, nil
}

func (e *Engine) wrap(err error) error {
	return fmt.Errorf("couchdb %s: %w", e.masked, err)
}

// Close releases the connections.
func (e *Engine) Close() error {
	e.tr.CloseIdleConnections()
	return e.client.Close()
}

// Ping asks for the list of databases: GET / answers even with a wrong
// password, and pouchdb-server has no /_up.
func (e *Engine) Ping(ctx context.Context) error {
	_, err := e.client.AllDBs(ctx, kivik.Param("limit", 1))
	return mapErr(err)
}

// CreateDB creates db; nil when it exists. CouchDB 3.4.3 may answer a
// create racing another create of the same database 500 "conflict" (the
// shard map's document; seen in TestOpenConcurrently under CI load):
// the other create made it, or a short wait and another try do.
func (e *Engine) CreateDB(ctx context.Context, db string) error {
	var err error
	for attempt := range 5 {
		err = e.client.CreateDB(ctx, db)
		switch {
		case err == nil, kivik.HTTPStatus(err) == http.StatusPreconditionFailed:
			return nil
		case kivik.HTTPStatus(err) != http.StatusInternalServerError || !strings.Contains(err.Error(), "conflict"):
			return mapErr(err)
		}
		if ok, _ := e.client.DBExists(ctx, db); ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return mapErr(ctx.Err())
		case <-time.After(time.Duration(10<<attempt) * time.Millisecond):
		}
	}
	return mapErr(err)
}

// DBExists asks the server (HEAD).
func (e *Engine) DBExists(ctx context.Context, db string) (bool, error) {
	ok, err := e.client.DBExists(ctx, db)
	if err != nil {
		return false, mapErr(err)
	}
	if !ok {
		e.dbs.Delete(db)
	}
	return ok, nil
}

// DeleteDB removes db. (pouchdb-server answers 200 for a missing one;
// the HEAD first gives it CouchDB's 404.)
func (e *Engine) DeleteDB(ctx context.Context, db string) error {
	e.dbs.Delete(db)
	if ok, err := e.client.DBExists(ctx, db); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("%w: database %s", engine.ErrNotFound, db)
		}
		return mapErr(err)
	}
	return mapErr(e.client.DestroyDB(ctx, db))
}

// AllDBs lists the databases, sorted (pouchdb-server lists them in
// creation order).
func (e *Engine) AllDBs(ctx context.Context) ([]string, error) {
	dbs, err := e.client.AllDBs(ctx)
	slices.Sort(dbs)
	return dbs, mapErr(err)
}

// ensureKnown finds db before a request with a body goes to it, and returns
// its number of shard copies. Apache CouchDB answers a request with a body
// to a missing database with 404 before reading the body and closes the
// connection, so the client sees "connection reset by peer" instead of the
// 404 (seen on 3.4.3 for _all_docs with keys and document PUTs). Databases
// found are remembered until DeleteDB; the info (GET /db) also says n.
func (e *Engine) ensureKnown(ctx context.Context, db string) (int, error) {
	if n, ok := e.dbs.Load(db); ok {
		return n.(int), nil
	}
	resp, err := e.raw.DoReq(ctx, http.MethodGet, "/"+url.PathEscape(db), nil)
	if err != nil {
		return 0, mapErr(err)
	}
	defer chttp.CloseBody(resp.Body)
	if err := chttp.ResponseError(resp); err != nil {
		return 0, mapErr(err)
	}
	var info struct {
		Cluster struct {
			N int `json:"n"`
		} `json:"cluster"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return 0, fmt.Errorf("%w: info of %s: %v", engine.ErrUnavailable, db, err)
	}
	n := max(info.Cluster.N, 1)
	e.dbs.Store(db, n)
	return n, nil
}

// mapErr turns kivik's and net/http's errors into the engine's.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	for _, s := range []error{engine.ErrNotFound, engine.ErrConflict, engine.ErrUnavailable, engine.ErrBadRequest, engine.ErrNotModified, engine.ErrUnauthorized} {
		if errors.Is(err, s) {
			return err
		}
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w: %v", engine.ErrUnavailable, err)
	}
	switch status := kivik.HTTPStatus(err); status {
	case http.StatusNotFound:
		return fmt.Errorf("%w: %v", engine.ErrNotFound, err)
	case http.StatusConflict, http.StatusPreconditionFailed:
		return fmt.Errorf("%w: %v", engine.ErrConflict, err)
	case http.StatusBadRequest:
		return fmt.Errorf("%w: %v", engine.ErrBadRequest, err)
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("%w: %v", engine.ErrUnauthorized, err)
	default:
		return fmt.Errorf("%w: %v", engine.ErrUnavailable, err)
	}
}

// redact removes the password of rawURL from err's text: url.Parse
// errors, for one, quote the whole URL, which url.Parse itself may not
// be able to take apart.
func redact(err error, rawURL string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := strings.ReplaceAll(msg, rawURL, MaskURL(rawURL))
	if u, perr := url.Parse(rawURL); perr == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			clean = strings.ReplaceAll(clean, pw, "xxxxx")
		}
	}
	if clean == msg {
		return err
	}
	return errors.New(clean)
}

// MaskURL returns u with the password replaced by "xxxxx", for logs. It
// works on the text, not on url.Parse, so that a URL url.Parse refuses
// (an unclosed "[", no scheme, which kivik takes as http://) still loses
// its password.
func MaskURL(u string) string {
	start := 0
	if i := strings.Index(u, "://"); i >= 0 {
		start = i + 3
	}
	rest := u[start:]
	end := strings.IndexAny(rest, "?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return u
	}
	colon := strings.Index(rest[:at], ":")
	if colon < 0 {
		return u
	}
	return u[:start] + rest[:colon+1] + "xxxxx" + rest[at:]
}

// newTransport keeps many idle connections to the one host (Go's default
// keeps 2, which under 16 concurrent requests means a new TCP connection
// for most of them), no gzip (CouchDB is near; inflate showed in
// profiles), and a bound on a server that accepts but never answers.
func newTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 64
	// Below the 5 s keep-alive timeout of Node servers (pouchdb-server): a
	// connection the server is closing would fail a PUT whose streamed
	// body net/http cannot replay.
	tr.IdleConnTimeout = 4 * time.Second
	tr.DisableCompression = true
	// Generous: the first view query after a bulk load waits for the index.
	tr.ResponseHeaderTimeout = 2 * time.Minute
	return tr
}
