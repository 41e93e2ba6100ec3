// Command load measures portreqd's request rate against the raw CouchDB
// operation behind each scenario, in the same run.
//
// Absolute numbers from one machine mean little (and on a small CI box the
// load generator shares the CPUs with portreqd and CouchDB), so every
// portreqd scenario is paired with a baseline that sends the CouchDB request
// portreqd itself has to make, measured minutes apart at most, and the
// result is reported as a ratio: how much of CouchDB's raw rate survives
// portreqd's work (auth, validation, envelope, extra round trips).
//
//	go run ./test/load -couchdb http://admin:secret@127.0.0.1:5984
//	go run ./test/load -smoke -couchdb $COUCHDB_URL   # CI: a few seconds, exit 1 on any error
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is the tool's command line.
type config struct {
	portreqd    string
	couchdb     string
	apiKey      string
	dbPrefix    string
	duration    time.Duration
	warmup      time.Duration
	clients     []int
	requests    int
	maxRequests int
	jsonOut     string
	smoke       bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	c := &config{}
	var clients string
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.portreqd, "portreqd", "", "URL of a running portreqd; empty = build ./cmd/portreqd and start it on a fresh database prefix")
	fs.StringVar(&c.couchdb, "couchdb", getenv("COUCHDB_URL"), "CouchDB URL with credentials (default $COUCHDB_URL)")
	fs.StringVar(&c.apiKey, "api-key", "", "master API key of the running portreqd (with -portreqd)")
	fs.StringVar(&c.dbPrefix, "db-prefix", "", "database prefix the running portreqd uses (with -portreqd)")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "measured time per scenario and client count")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "unmeasured time before each measurement")
	fs.StringVar(&clients, "clients", "1,16", "comma-separated concurrent client counts")
	fs.IntVar(&c.requests, "requests", 200, "port requests to seed (at least 60: a full 50-row page of completed must exist)")
	fs.IntVar(&c.maxRequests, "max-requests", 200000, "hard cap on measured requests per scenario run")
	fs.StringVar(&c.jsonOut, "json", "", "write the result rows to this file as a JSON array")
	fs.BoolVar(&c.smoke, "smoke", false, "CI run: duration 300ms, warmup 100ms, requests 60, clients 1,4; exit 1 on any error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.smoke {
		c.duration, c.warmup, c.requests, clients = 300*time.Millisecond, 100*time.Millisecond, 60, "1,4"
	}
	for _, f := range strings.Split(clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 1024 {
			return nil, fmt.Errorf("-clients: %q is not a count from 1 to 1024", f)
		}
		c.clients = append(c.clients, n)
	}
	switch {
	case c.couchdb == "":
		return nil, errors.New("-couchdb (or COUCHDB_URL) is required")
	case c.portreqd != "" && c.apiKey == "":
		return nil, errors.New("-api-key is required with -portreqd")
	case c.requests < 60:
		return nil, errors.New("-requests must be at least 60")
	case c.duration <= 0 || c.warmup < 0 || c.maxRequests < 1:
		return nil, errors.New("-duration and -max-requests must be positive, -warmup not negative")
	}
	return c, nil
}

// run is the whole tool; it returns the process exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, getenv, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "load:", err)
		}
		return 2
	}
	rows, err := measure(ctx, cfg, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "load:", err)
		return 1
	}
	if cfg.jsonOut != "" {
		if err := writeJSON(cfg.jsonOut, rows); err != nil {
			fmt.Fprintln(stderr, "load:", err)
			return 1
		}
	}
	if n := totalErrors(rows); n > 0 {
		fmt.Fprintf(stdout, "\n%d request(s) failed; see the notes above\n", n)
		if cfg.smoke {
			return 1
		}
	}
	return 0
}

// measure sets everything up, runs the scenarios, prints the table (also
// the rows done when a scenario fails) and tears down what it created,
// after the table so that portreqd's log report comes last. The whole run is bounded: a deadline derived from the flags
// covers setup, seeding and every scenario.
func measure(ctx context.Context, cfg *config, stdout, stderr io.Writer) ([]*result, error) {
	couch, err := newCouch(cfg.couchdb)
	if err != nil {
		return nil, err
	}
	perRun := cfg.warmup + cfg.duration
	budget := 3*time.Minute + time.Duration(len(cfg.clients)*len(scenarioNames)*2)*perRun*2
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()

	maxClients := slices.Max(cfg.clients)
	client := newHTTPClient(maxClients + seedWorkers)

	prefix, apiKey, base := cfg.dbPrefix, cfg.apiKey, cfg.portreqd
	if base == "" {
		prefix = "loadtest_" + randomHex(4) + "_"
		apiKey = randomHex(16)
		fmt.Fprintln(stderr, "load: building and starting portreqd on database prefix", prefix)
		srv, err := startServer(ctx, couch, prefix, apiKey, stderr)
		if err != nil {
			return nil, err
		}
		defer func() {
			srv.stop()
			srv.report(stdout)
			couch.dropPrefix(context.Background(), client, prefix, stderr)
		}()
		base = srv.url
	} else if err := checkLoopback(base); err != nil {
		return nil, fmt.Errorf("-portreqd: %w", err)
	}
	api := &portreqd{base: strings.TrimRight(base, "/"), client: client}

	fmt.Fprintf(stdout, "portreqd %s, CouchDB %s, db prefix %q\n", api.base, couch.masked, prefix)
	fmt.Fprintln(stdout, machineLine())
	fmt.Fprintln(stdout, caveat)

	fmt.Fprintf(stderr, "load: seeding %d port requests\n", cfg.requests)
	seed, err := seedData(ctx, api, couch, prefix, apiKey, cfg.requests)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	scratch := prefix + "loadtest_scratch"
	if err := couch.createDB(ctx, client, scratch); err != nil {
		return nil, err
	}
	defer couch.deleteDB(context.Background(), client, scratch)

	rows, err := runScenarios(ctx, &env{api: api, couch: couch, client: client, seed: seed, prefix: prefix, scratch: scratch, cfg: cfg}, stderr)
	if len(rows) > 0 {
		printTable(stdout, rows)
	}
	return rows, err
}

// newHTTPClient is the one client for everything: keep-alive with enough
// idle connections per host that no client ever waits for a new TCP
// connection in the measured loop.
func newHTTPClient(conns int) *http.Client {
	tr := &http.Transport{
		Proxy:               nil, // loopback only, never a proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        4 * conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // the servers would spend CPU we are not measuring
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// couch addresses the raw CouchDB: the URL without userinfo, plus a ready
// Authorization header, so that the password never appears in anything
// printed (masked is the redacted URL).
type couch struct {
	base   string
	auth   string
	masked string
	raw    string // with credentials, only handed to portreqd
}

func newCouch(raw string) (*couch, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("-couchdb must be an http:// or https:// URL")
	}
	if err := checkLoopback(raw); err != nil {
		return nil, fmt.Errorf("-couchdb: %w", err)
	}
	c := &couch{masked: u.Redacted(), raw: raw}
	if u.User != nil {
		p, _ := u.User.Password()
		req := &http.Request{Header: http.Header{}}
		req.SetBasicAuth(u.User.Username(), p)
		c.auth = req.Header.Get("Authorization")
	}
	u.User = nil
	c.base = strings.TrimRight(u.String(), "/")
	return c, nil
}

// checkLoopback refuses any host that is not this machine: the tool sends
// thousands of requests per second and creates databases, which must never
// reach a shared server by mistake.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("host %q is not a loopback address; this tool only loads the local machine", host)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
