package couchstore

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	kivik "github.com/go-kivik/kivik/v4"
	"github.com/go-kivik/kivik/v4/couchdb" // registers the "couch" driver
	"github.com/go-kivik/kivik/v4/couchdb/chttp"
	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/views"
)

// openTimeout bounds Open when the caller's context has no deadline, so that
// a server that accepts connections but never answers fails the start.
const openTimeout = 30 * time.Second

// Open connects to CouchDB, checks that it answers, creates the databases
// portreqd needs and installs the design documents from package views.
// It is idempotent and safe to run from several replicas at once. Every
// failure is KindUnavailable with the URL in the message, password masked.
func Open(ctx context.Context, o Options) (*Store, error) {
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	masked := MaskURL(o.URL)
	fail := func(what string, err error) error {
		return porting.Wrap(porting.KindUnavailable,
			"datastore unavailable: couchdb "+masked+": "+what, redact(err, o.URL))
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, openTimeout)
		defer cancel()
	}

	tr := newTransport()
	hc := &http.Client{Transport: plusEscaper{tr}}
	client, err := kivik.New("couch", o.URL,
		couchdb.OptionHTTPClient(hc),
		// Bodies are small and CouchDB is near; gzip would only cost CPU
		// and a goroutine per request.
		couchdb.OptionNoRequestCompression(),
		couchdb.OptionUserAgent("portreqd"),
	)
	if err != nil {
		return nil, fail("bad URL", err)
	}
	raw, err := chttp.New(hc, o.URL, options{
		couchdb.OptionNoRequestCompression(), // as above; it also spares a URL parse per request
		couchdb.OptionUserAgent("portreqd"),
	})
	if err != nil {
		return nil, fail("bad URL", err)
	}
	s := &Store{client: client, raw: raw, transport: tr, log: log, prefix: o.Prefix, docBase: serverBase(o.URL)}
	s.accounts = s.db(dbAccounts)
	s.requests = s.db(dbPortRequests)
	s.claims = s.db(dbClaims)
	ok := false
	defer func() {
		if !ok {
			_ = s.Close()
		}
	}()

	// GET /: pouchdb-server has no /_up.
	v, err := client.Version(ctx)
	if err != nil {
		return nil, fail("no answer", err)
	}
	docs, err := views.All()
	if err != nil {
		return nil, porting.Wrap(porting.KindInternal, "design documents", err)
	}
	for _, name := range databases(docs) {
		if err := s.ensureDB(ctx, name); err != nil {
			return nil, fail("database "+s.prefix+name, err)
		}
		s.known.Store(name, true)
	}
	if s.writeN, err = s.replicas(ctx, dbPortRequests); err != nil {
		return nil, fail("database "+s.prefix+dbPortRequests, err)
	}
	if s.writeN > 1 {
		if err := s.ensureDB(ctx, dbLeases); err != nil {
			return nil, fail("database "+s.prefix+dbLeases, err)
		}
	}
	for _, d := range docs {
		if err := s.installDesign(ctx, d); err != nil {
			return nil, fail("design document "+s.prefix+d.DB+"/"+d.ID, err)
		}
	}
	log.Info("couchdb store open", zap.String("url", masked),
		zap.String("vendor", v.Vendor), zap.String("version", v.Version),
		zap.String("prefix", o.Prefix), zap.Int("shard_copies", s.writeN))
	ok = true
	return s, nil
}

// options applies several kivik options where one is expected (chttp.New).
type options []kivik.Option

func (o options) Apply(target any) {
	for _, opt := range o {
		opt.Apply(target)
	}
}

// databases lists the databases Open ensures: Kazoo's global ones plus every
// target of a design document.
func databases(docs []views.DesignDoc) []string {
	names := []string{dbAccounts, dbPortRequests, dbClaims}
	seen := map[string]bool{dbAccounts: true, dbPortRequests: true, dbClaims: true}
	for _, d := range docs {
		if !seen[d.DB] {
			seen[d.DB] = true
			names = append(names, d.DB)
		}
	}
	return names
}

// ensureDB creates a database unless it exists. It looks first so that a
// user who is a member but no server admin can run portreqd on databases an
// admin created; 412 (file_exists) from a concurrent creator is success.
func (s *Store) ensureDB(ctx context.Context, name string) error {
	exists, err := s.client.DBExists(ctx, s.prefix+name)
	if err != nil {
		return err
	}
	if exists {
		return nil
	}
	err = s.client.CreateDB(ctx, s.prefix+name)
	if kivik.HTTPStatus(err) == http.StatusPreconditionFailed {
		return nil
	}
	if err == nil {
		s.log.Info("couchdb database created", zap.String("db", s.prefix+name))
	}
	return err
}

// newTransport is one keep-alive transport per Store with room for many idle
// connections to the one CouchDB host: the service is measured against raw
// CouchDB throughput, and Go's default keeps only 2 idle connections per host.
func newTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 64
	// Below the 5 s keep-alive timeout of Node servers (pouchdb-server): a
	// connection the server is closing would fail a PUT, whose streamed body
	// net/http cannot replay. Under load connections never idle that long.
	tr.IdleConnTimeout = 4 * time.Second
	// CouchDB is near: gzip would only burn CPU on both ends (profiles of a
	// 50-row page showed inflate among the top costs).
	tr.DisableCompression = true
	// A CouchDB that accepts connections but never answers must turn into
	// 503 datastore unavailable, not a request that hangs forever. Generous,
	// because the first view query after a bulk load waits for the index.
	tr.ResponseHeaderTimeout = 2 * time.Minute
	return tr
}

// MaskURL returns u with the password of its userinfo replaced by "xxxxx",
// for logs and error messages: a CouchDB URL usually carries the admin
// password. It works on text that does not parse as a URL too.
func MaskURL(u string) string {
	// Without a scheme kivik assumes http://, so the text is userinfo@host.
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

// redact removes the password of rawURL from err's text: url.Parse errors,
// for one, quote the whole URL.
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
