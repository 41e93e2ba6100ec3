package main

import (
	"github.com/portreqd/portreqd/pkg/porting"

	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// config is portreqd's configuration: flags, each with a PORTREQ_<FLAG>
// environment fallback (a flag given on the command line wins).
type config struct {
	listen                    string
	couchdb                   string
	dbPrefix                  string
	dataDir                   string
	masterAPIKey              string
	tokenSecret               string
	tokenTTL                  time.Duration
	portActivationCharge      float64
	maxUploadBytes            int64
	allowSubmittedToScheduled bool
	realmSuffix               string
	logFormat                 string
	logLevel                  string
	shutdownTimeout           time.Duration
	debugAddr                 string
	docCacheMB                int
	lnpTable                  string
	bodyTimeout               time.Duration
	limits                    porting.Limits
	loginRate                 float64
	loginBurst                int
	uploadTimeout             time.Duration
	lnpURL                    string
	completionGrace           time.Duration
	accountCacheTTL           time.Duration
	smtp                      notifyConfig
	webhookAllowPrivate       bool
	storeWait                 time.Duration
	metrics                   bool
	kazooTokens               bool
	kazooTokenTTL             time.Duration
}

// notifyConfig is how port events are mailed.
type notifyConfig struct {
	addr, tls, username, password, from, defaultTo string
}

// The shortest master API key and token secret accepted at start.
const (
	minAPIKeyLen      = 16
	minTokenSecretLen = 32
)

func envName(flagName string) string {
	return "PORTREQ_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func parseConfig(name string, args []string, getenv func(string) string, out io.Writer) (*config, error) {
	c := &config{}
	fs := serverFlags(c)
	fs.SetOutput(out)
	fs.Usage = func() { printOverview(out, getenv) }
	var all []string
	fs.VisitAll(func(f *flag.Flag) { all = append(all, f.Name) })
	if err := envDefaults(fs, getenv, all...); err != nil {
		return nil, err
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (see portreqd help)", fs.Arg(0))
	}
	return c, c.validate()
}

// envDefaults sets each named flag of fs from its PORTREQ_ variable, when
// set: the command line, parsed next, wins.
func envDefaults(fs *flag.FlagSet, getenv func(string) string, names ...string) error {
	var errs []error
	for _, name := range names {
		if v := getenv(envName(name)); v != "" {
			if err := fs.Set(name, v); err != nil {
				errs = append(errs, fmt.Errorf("invalid %s=%q: %v", envName(name), v, err))
			}
		}
	}
	return errors.Join(errs...)
}

// serverFlags defines the server's flags over c.
func serverFlags(c *config) *flag.FlagSet {
	fs := flag.NewFlagSet("portreqd", flag.ContinueOnError)
	fs.StringVar(&c.listen, "listen", ":8000", "address to serve the API on")
	fs.StringVar(&c.couchdb, "couchdb", "", "CouchDB URL, e.g. http://admin:secret@127.0.0.1:5984 (empty: the embedded store under --data-dir)")
	fs.StringVar(&c.dbPrefix, "db-prefix", "", "prefix for every database name (isolates test runs on a shared server; Kazoo interop needs none)")
	fs.StringVar(&c.dataDir, "data-dir", "./data", "directory of the embedded store (when --couchdb is empty)")
	fs.StringVar(&c.masterAPIKey, "master-api-key", "", "API key of the master account created at first start (when empty: a random one, printed once the API is up and kept in <data-dir>/master-api-key; `portreqd master-key` shows or rotates it later)")
	fs.StringVar(&c.tokenSecret, "token-secret", "", "HMAC key for auth tokens, at least 32 bytes; share it between replicas and sites (when empty: one generated once and kept with the store: <data-dir>/token-secret, or CouchDB's _local/portreqd_token_secret of accounts)")
	fs.DurationVar(&c.tokenTTL, "token-ttl", time.Hour, "lifetime of an auth token")
	fs.Float64Var(&c.portActivationCharge, "port-activation-charge", 0, "charge per ported number (0 = no charges)")
	fs.Int64Var(&c.maxUploadBytes, "max-upload-bytes", 8000000, "largest attachment accepted, in bytes")
	fs.BoolVar(&c.allowSubmittedToScheduled, "allow-submitted-to-scheduled", false, "let the port authority move a request from submitted straight to scheduled")
	fs.StringVar(&c.realmSuffix, "realm-suffix", porting.DefaultRealmSuffix, "domain ending the random SIP realm of an account created without one (Kazoo's account_realm_suffix)")
	fs.StringVar(&c.logFormat, "log-format", "json", "log format: json (production) or console (development)")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&c.debugAddr, "debug-addr", "", "loopback address for net/http/pprof (off when empty)")
	fs.IntVar(&c.docCacheMB, "doc-cache-mb", 16, "memory for decoded port requests shared by reads and listings, in MiB (0 = no cache)")
	fs.StringVar(&c.lnpTable, "lnp-table", "", "CSV of NPA-NXX blocks (prefix,losing_carrier,carriers,documents) answering portability checks; see deploy/lnp/sample-npanxx.csv (empty: none)")
	fs.StringVar(&c.lnpURL, "lnp-url", "", "URL of a portability lookup service asked about numbers the table does not know (empty: none)")
	fs.IntVar(&c.limits.NumbersPerRequest, "max-numbers-per-request", porting.DefaultNumbersPerRequest, "numbers one port request may hold")
	fs.IntVar(&c.limits.Comments, "max-comments", porting.DefaultComments, "comments one port request may hold")
	fs.IntVar(&c.limits.CommentBytes, "max-comment-bytes", porting.DefaultCommentBytes, "bytes of one comment's content")
	fs.IntVar(&c.limits.Attachments, "max-attachments", porting.DefaultAttachments, "attachments one port request may hold")
	fs.Float64Var(&c.loginRate, "login-rate", 5, "api_auth attempts per second allowed from one client address (429 beyond)")
	fs.IntVar(&c.loginBurst, "login-burst", 20, "api_auth attempts one client address may make at once")
	fs.DurationVar(&c.accountCacheTTL, "account-cache-ttl", 2*time.Second, "how long an account read is reused; on CouchDB writes by other replicas and sites drop it at once (_changes), this bounds staleness only while that feed is down")
	fs.DurationVar(&c.completionGrace, "completion-grace", porting.DefaultCompletionGrace, "how long a completion under way is trusted before it counts as cut off (a crash, a store outage) and is undone")
	fs.DurationVar(&c.bodyTimeout, "body-timeout", time.Minute, "how long a client may take to send a JSON request (408 after)")
	fs.DurationVar(&c.uploadTimeout, "upload-timeout", 10*time.Minute, "how long a client may take to send or receive an attachment, a logo or a letter")
	fs.StringVar(&c.smtp.addr, "smtp-addr", "", "SMTP relay (host:port) that port event mails go through (empty: no mail)")
	fs.StringVar(&c.smtp.tls, "smtp-tls", "starttls", "TLS to the relay: starttls (required), tls (implicit, port 465) or none (a local relay or mail catcher only)")
	fs.StringVar(&c.smtp.username, "smtp-username", "", "SMTP user (PLAIN authentication; empty: none)")
	fs.StringVar(&c.smtp.password, "smtp-password", "", "SMTP password; prefer PORTREQ_SMTP_PASSWORD, never logged")
	fs.StringVar(&c.smtp.from, "smtp-from", "portreqd <portreqd@localhost>", "From of port event mails")
	fs.StringVar(&c.smtp.defaultTo, "notify-default-to", "", "comma-separated addresses that receive the port authority's mails when it has no port support address (Kazoo's default_to)")
	fs.BoolVar(&c.webhookAllowPrivate, "webhook-allow-private", false, "let webhook deliveries reach loopback, private and link-local addresses (refused by default: a tenant's URL must not reach the operator's network)")
	fs.BoolVar(&c.metrics, "metrics", true, "serve Prometheus metrics at /metrics on the --listen address (no authentication: it holds no tenant data)")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 15*time.Second, "how long in-flight requests may run after SIGTERM")
	fs.BoolVar(&c.kazooTokens, "kazoo-tokens", true, "on CouchDB, also accept the tokens Kazoo issues (4.3 JWTs signed with its system_auth keys, 4.0 token_auth documents), for portreqd beside Kazoo behind one API root")
	fs.DurationVar(&c.kazooTokenTTL, "kazoo-token-ttl", time.Hour, "how long a Kazoo 4.0 token_auth token lasts after its last use (Kazoo's token_auth_expiry)")
	fs.DurationVar(&c.storeWait, "store-wait", time.Minute, "how long to wait at start for a CouchDB that does not answer yet, e.g. one still starting (0: fail at once)")
	return fs
}

func (c *config) validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.listen); err != nil {
		errs = append(errs, fmt.Errorf("--listen %q: %v", c.listen, err))
	}
	if c.couchdb == "" && c.dataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty when --couchdb is not given"))
	} else if c.couchdb != "" && !isCouchURL(c.couchdb) {
		errs = append(errs, errors.New("--couchdb must be an http:// or https:// URL"))
	}
	if c.masterAPIKey != "" && len(c.masterAPIKey) < minAPIKeyLen {
		errs = append(errs, fmt.Errorf("--master-api-key must be at least %d characters (it is the master's password); leave it empty to have one generated", minAPIKeyLen))
	}
	if c.tokenSecret != "" && len(c.tokenSecret) < minTokenSecretLen {
		errs = append(errs, fmt.Errorf("--token-secret must be at least %d bytes (a short one is guessed from a single token), e.g. openssl rand -hex 32", minTokenSecretLen))
	}
	if c.tokenTTL <= 0 {
		errs = append(errs, fmt.Errorf("--token-ttl must be positive, got %s", c.tokenTTL))
	}
	if c.portActivationCharge < 0 {
		errs = append(errs, fmt.Errorf("--port-activation-charge must not be negative, got %v", c.portActivationCharge))
	}
	if c.docCacheMB < 0 {
		errs = append(errs, fmt.Errorf("--doc-cache-mb must not be negative, got %d", c.docCacheMB))
	}
	if c.maxUploadBytes <= 0 {
		errs = append(errs, fmt.Errorf("--max-upload-bytes must be positive, got %d", c.maxUploadBytes))
	}
	switch c.smtp.tls {
	case "starttls", "tls", "none":
	default:
		errs = append(errs, fmt.Errorf("--smtp-tls must be starttls, tls or none, got %q", c.smtp.tls))
	}
	if c.smtp.addr != "" {
		if _, _, err := net.SplitHostPort(c.smtp.addr); err != nil {
			errs = append(errs, fmt.Errorf("--smtp-addr %q: %v", c.smtp.addr, err))
		}
	}
	if c.logFormat != "json" && c.logFormat != "console" {
		errs = append(errs, fmt.Errorf("--log-format must be json or console, got %q", c.logFormat))
	}
	for _, l := range []struct {
		flag string
		v    int
	}{{"--max-numbers-per-request", c.limits.NumbersPerRequest}, {"--max-comments", c.limits.Comments},
		{"--max-comment-bytes", c.limits.CommentBytes}, {"--max-attachments", c.limits.Attachments}} {
		if l.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %d", l.flag, l.v))
		}
	}
	if c.loginRate <= 0 || c.loginBurst <= 0 {
		errs = append(errs, fmt.Errorf("--login-rate and --login-burst must be positive"))
	}
	if c.bodyTimeout <= 0 || c.uploadTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--body-timeout and --upload-timeout must be positive"))
	}
	if c.accountCacheTTL <= 0 {
		errs = append(errs, fmt.Errorf("--account-cache-ttl must be positive, got %s", c.accountCacheTTL))
	}
	if c.completionGrace < time.Second {
		errs = append(errs, fmt.Errorf("--completion-grace must be at least 1s, got %s", c.completionGrace))
	}
	if c.kazooTokenTTL <= 0 {
		errs = append(errs, fmt.Errorf("--kazoo-token-ttl must be positive, got %s", c.kazooTokenTTL))
	}
	if c.storeWait < 0 {
		errs = append(errs, fmt.Errorf("--store-wait must not be negative, got %s", c.storeWait))
	}
	if c.shutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--shutdown-timeout must be positive, got %s", c.shutdownTimeout))
	}
	return errors.Join(errs...)
}
