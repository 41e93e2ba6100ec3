// Command load measures portreqd's request rate against the operations it
// rests on and against the machine's ceiling, in the same run.
//
// Absolute numbers from one machine mean little (and on a small CI box the
// load generator shares the CPUs with portreqd and CouchDB), so every
// portreqd scenario is reported as ratios measured minutes apart at most:
//
//   - on CouchDB, to the raw CouchDB request portreqd itself has to make
//     (how much of CouchDB's raw rate survives portreqd's work: auth,
//     validation, envelope, extra round trips);
//   - on every store, to a trivial Go JSON handler served by a separate
//     process and driven by the same client (the ceiling: what one HTTP
//     round trip costs on this machine at all).
//
// The data set is seeded directly into the store before portreqd starts
// (accounts three levels deep, requests in every state over 90 days, claims
// and numbers in service), or through the API for small runs.
//
//	go run ./test/load                                   # embedded store, 1,000 requests
//	go run ./test/load -store couchdb -couchdb http://admin:secret@127.0.0.1:5984 -requests 10000
//	go run ./test/load -requests 100000 -markdown-append BENCHMARKS.md
//	go run ./test/load -smoke        # CI: seconds, every scenario, exit 1 on any error
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

// Store kinds (-store).
const (
	storeCouch    = "couchdb"
	storeEmbedded = "embedded"
)

// Seeding modes (-seed).
const (
	seedAPI    = "api"
	seedDirect = "direct"
)

// config is the tool's command line.
type config struct {
	portreqd       string
	couchdb        string
	store          string
	apiKey         string
	dbPrefix       string
	seed           string
	scenarios      []string // rate scenarios, in the table's order
	attachCheck    bool     // run the attachment memory check (attachment_8mb)
	attachBytes    int      // its raw PDF's size
	duration       time.Duration
	warmup         time.Duration
	clients        []int
	requests       int
	maxRequests    int
	maxAttachments int
	jsonOut        string
	markdown       string
	markdownAppend string
	smoke          bool
	serveTrivial   string
	pprofDir       string
	quietWait      time.Duration
	countCouch     bool
	command        string // the command line, credentials masked, for the record
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	c := &config{}
	var clients, scenarios string
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.portreqd, "portreqd", "", "URL of a running portreqd; empty = build ./cmd/portreqd and start it on a fresh store")
	fs.StringVar(&c.couchdb, "couchdb", getenv("COUCHDB_URL"), "CouchDB URL with credentials (default $COUCHDB_URL)")
	fs.StringVar(&c.store, "store", "", "couchdb or embedded; default couchdb when -couchdb (or COUCHDB_URL) is set, else embedded")
	fs.StringVar(&c.apiKey, "api-key", "", "master API key of the running portreqd (with -portreqd)")
	fs.StringVar(&c.dbPrefix, "db-prefix", "", "database prefix the running portreqd uses (with -portreqd)")
	fs.StringVar(&c.seed, "seed", "", "direct (write documents into the store before portreqd starts) or api (through the HTTP API; small sizes); default direct from 1000 requests, else api")
	fs.StringVar(&scenarios, "scenarios", "all", "comma-separated scenarios to run, or all ("+strings.Join(defaultScenarios(), ", ")+"); also "+strings.Join(extraScenarios, ", ")+" by name. The ceiling "+ceilingName+" always runs. "+
		attachCheckName+" is no rate but a memory check, run once before the rates: an 8,000,000-byte PDF uploaded and downloaded raw and as a data URI, portreqd's peak RSS rise measured around each transfer")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "measured time per scenario and client count")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "unmeasured time before each measurement")
	fs.StringVar(&clients, "clients", "1,16", "comma-separated concurrent client counts")
	fs.IntVar(&c.requests, "requests", 1000, "port requests to seed (at least 60; e.g. 1000, 10000, 100000)")
	fs.IntVar(&c.maxRequests, "max-requests", 200000, "hard cap on measured requests per scenario run")
	fs.IntVar(&c.attachBytes, "attachment-bytes", attachRawBytes, "raw PDF size of the "+attachCheckName+" check, and the most its data URI may have: portreqd's --max-upload-bytes (default 8000000)")
	fs.IntVar(&c.maxAttachments, "max-attachments", 400, "cap on the 50 KB PDF attachments seeded (a quarter of the requests, at most this many)")
	fs.StringVar(&c.jsonOut, "json", "", "write the results (rows, memory, seed) to this file as JSON")
	fs.StringVar(&c.markdown, "markdown", "", "write a Markdown report (command, machine, caveat, table) to this file, replacing it")
	fs.StringVar(&c.markdownAppend, "markdown-append", "", "append the Markdown report to this file (created with a title when missing)")
	fs.BoolVar(&c.smoke, "smoke", false, "CI run: duration 100ms, warmup 50ms, 100 requests seeded directly, clients 1,4, every scenario, "+attachCheckName+" with 1,000,000-byte bodies; exit 1 on any error")
	fs.StringVar(&c.pprofDir, "pprof", "", "start portreqd with --debug-addr and save a CPU profile of every portreqd scenario at the largest client count (and a heap profile after it) into this directory")
	fs.DurationVar(&c.quietWait, "quiet-wait", 0, "before each measured run, wait up to this long for other processes on the machine to use less than a quarter of a CPU (Linux; 0 = do not wait; noisy runs are flagged either way)")
	fs.BoolVar(&c.countCouch, "count-couch", false, "diagnostic (CouchDB store): put a counting proxy between portreqd and CouchDB and report the CouchDB requests each scenario makes per portreqd request; the extra hop makes the rates unfit for comparison")
	fs.StringVar(&c.serveTrivial, "serve-trivial", "", "") // internal: serve the ceiling handler on this address
	fs.Usage = func() {
		// -serve-trivial is how the tool starts its own ceiling process.
		shown := flag.NewFlagSet("load", flag.ContinueOnError)
		shown.SetOutput(stderr)
		fs.VisitAll(func(f *flag.Flag) {
			if f.Name != "serve-trivial" {
				shown.Var(f.Value, f.Name, f.Usage)
			}
		})
		fmt.Fprintln(stderr, "Usage of load (go run ./test/load [flags]):")
		shown.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.serveTrivial != "" {
		return c, nil
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.smoke {
		c.duration, c.warmup, clients = 100*time.Millisecond, 50*time.Millisecond, "1,4"
		if !set["requests"] {
			c.requests = 100
		}
		if !set["seed"] && c.portreqd == "" {
			c.seed = seedDirect
		}
		if !set["scenarios"] {
			scenarios = "all"
		}
		if !set["attachment-bytes"] {
			c.attachBytes = attachSmokeBytes
		}
	}
	for _, f := range strings.Split(clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 1024 {
			return nil, fmt.Errorf("-clients: %q is not a count from 1 to 1024", f)
		}
		c.clients = append(c.clients, n)
	}
	var err error
	if c.scenarios, err = selectScenarios(scenarios); err != nil {
		return nil, err
	}
	if i := slices.Index(c.scenarios, attachCheckName); i >= 0 {
		c.attachCheck = true
		c.scenarios = slices.Delete(c.scenarios, i, i+1)
	}
	if c.store == "" {
		c.store = storeEmbedded
		if c.couchdb != "" {
			c.store = storeCouch
		}
	}
	if c.seed == "" {
		c.seed = seedAPI
		if c.requests >= 1000 && c.portreqd == "" {
			c.seed = seedDirect
		}
	}
	switch {
	case c.store != storeCouch && c.store != storeEmbedded:
		return nil, fmt.Errorf("-store must be %s or %s", storeCouch, storeEmbedded)
	case c.store == storeCouch && c.couchdb == "":
		return nil, errors.New("-store couchdb needs -couchdb (or COUCHDB_URL)")
	case c.seed != seedAPI && c.seed != seedDirect:
		return nil, fmt.Errorf("-seed must be %s or %s", seedAPI, seedDirect)
	case c.seed == seedDirect && c.portreqd != "":
		return nil, errors.New("-seed direct writes into the store before portreqd starts; it cannot be used with -portreqd")
	case c.portreqd != "" && c.apiKey == "":
		return nil, errors.New("-api-key is required with -portreqd")
	case c.attachBytes < attachMinBytes:
		return nil, fmt.Errorf("-attachment-bytes must be at least %d", attachMinBytes)
	case c.requests < 60:
		return nil, errors.New("-requests must be at least 60")
	case c.duration <= 0 || c.warmup < 0 || c.maxRequests < 1 || c.maxAttachments < 0 || c.quietWait < 0:
		return nil, errors.New("-duration and -max-requests must be positive, -warmup, -quiet-wait and -max-attachments not negative")
	case c.countCouch && (c.store != storeCouch || c.portreqd != ""):
		return nil, errors.New("-count-couch needs -store couchdb and the portreqd this tool starts")
	case c.pprofDir != "" && c.portreqd != "":
		return nil, errors.New("-pprof needs the portreqd this tool starts, not -portreqd")
	case c.markdown != "" && c.markdownAppend != "":
		return nil, errors.New("-markdown and -markdown-append exclude each other")
	}
	c.command = commandLine(args, c.couchdb, set["couchdb"])
	return c, nil
}

// commandLine is the command as it can be rerun, with the CouchDB password
// masked; a URL taken from COUCHDB_URL is shown as that variable.
func commandLine(args []string, couchURL string, couchFlag bool) string {
	pw := passwordOf(couchURL)
	parts := []string{"go", "run", "./test/load"}
	if couchURL != "" && !couchFlag {
		parts = append([]string{"COUCHDB_URL=" + shellQuote(maskURL(couchURL))}, parts...)
	}
	for _, a := range args {
		if pw != "" {
			a = strings.ReplaceAll(a, ":"+pw+"@", ":xxxxx@")
		}
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,@%+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func maskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
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
	if cfg.serveTrivial != "" {
		if err := serveTrivial(ctx, cfg.serveTrivial); err != nil {
			fmt.Fprintln(stderr, "load: -serve-trivial:", err)
			return 1
		}
		return 0
	}
	rep, err := measure(ctx, cfg, stdout, stderr)
	code := 0
	if err != nil {
		fmt.Fprintln(stderr, "load:", err)
		code = 1
	}
	if rep != nil && rep.Attachments != nil && len(rep.Rows) == 0 {
		printAttachMemory(stdout, rep.Attachments) // the run failed before the table
	}
	if rep == nil || len(rep.Rows) == 0 {
		return 1
	}
	if err != nil {
		// A partial table must not pass for a benchmark result: only the
		// JSON, which says what failed, is written.
		rep.Error = err.Error()
		cfg.markdown, cfg.markdownAppend = "", ""
	}
	if err := writeReports(cfg, rep); err != nil {
		fmt.Fprintln(stderr, "load:", err)
		code = 1
	}
	if n := totalErrors(rep.Rows); n > 0 {
		fmt.Fprintf(stdout, "\n%d request(s) failed; see the notes above\n", n)
		if cfg.smoke {
			code = 1
		}
	}
	if a := rep.Attachments; a != nil && a.failed() > 0 {
		fmt.Fprintf(stdout, "\n%s: %d transfer(s) failed; see above\n", attachCheckName, a.failed())
		code = 1
	}
	if cfg.smoke {
		for _, r := range rep.Rows {
			if r.Requests-r.Errors < 1 {
				fmt.Fprintf(stdout, "smoke: %s at %d client(s) completed no request\n", r.Scenario, r.Clients)
				code = 1
			}
		}
	}
	return code
}

func writeReports(cfg *config, rep *report) error {
	if cfg.jsonOut != "" {
		if err := writeJSON(cfg.jsonOut, rep); err != nil {
			return err
		}
	}
	if cfg.markdown != "" {
		if err := writeMarkdown(cfg.markdown, rep, false); err != nil {
			return err
		}
	}
	if cfg.markdownAppend != "" {
		if err := writeMarkdown(cfg.markdownAppend, rep, true); err != nil {
			return err
		}
	}
	return nil
}

// measure sets everything up, seeds, runs the scenarios, prints the table
// (also the rows done when a scenario fails) and tears down what it
// created, after the table so that portreqd's log report comes last. The
// whole run is bounded: a deadline derived from the flags covers setup,
// seeding and every scenario.
func measure(ctx context.Context, cfg *config, stdout, stderr io.Writer) (*report, error) {
	var couch *couchServer
	if cfg.store == storeCouch {
		var err error
		if couch, err = newCouch(cfg.couchdb); err != nil {
			return nil, err
		}
	}
	perRun := cfg.warmup + cfg.duration
	runs := len(cfg.clients) * (len(cfg.scenarios)*2 + 2) // scenario, baseline, ceiling twice
	// Seeding allowance: the embedded store took 190s for 100,000 requests
	// (589,000 documents) with a RawPutMany that writes one document per
	// transaction; pouchdb-server about 60ms per request that way.
	perSeeded := 10 * time.Millisecond
	if couch != nil {
		perSeeded = 150 * time.Millisecond
	}
	budget := 5*time.Minute + time.Duration(cfg.requests)*perSeeded + time.Duration(runs)*(perRun*3+cfg.quietWait)
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()

	maxClients := slices.Max(cfg.clients)
	client := newHTTPClient(maxClients + seedWorkers)
	rep := &report{Command: cfg.command, Machine: machineLine(), Caveat: caveat, Requests: cfg.requests, Started: time.Now().UTC()}
	if cfg.countCouch {
		rep.Caveat += "; this run counted CouchDB requests through a proxy in the load tool (-count-couch): its portreqd rates include that extra hop"
	}

	prefix, apiKey, base := cfg.dbPrefix, cfg.apiKey, cfg.portreqd
	var srv *server
	var ds *seed
	var counter *couchCounter
	if base == "" {
		apiKey = randomHex(16)
		var dataDir string
		if couch != nil {
			prefix = "loadtest_" + randomHex(4) + "_"
			defer couch.dropPrefix(context.Background(), client, prefix, stderr)
		} else {
			d, err := os.MkdirTemp("", "portreqd-load-data")
			if err != nil {
				return nil, err
			}
			dataDir = d
			defer os.RemoveAll(dataDir)
		}
		if cfg.seed == seedDirect {
			fmt.Fprintf(stderr, "load: seeding %d port requests directly into the %s store\n", cfg.requests, cfg.store)
			var err error
			ds, err = seedDirectly(ctx, cfg, couch, prefix, dataDir, apiKey, stderr)
			if err != nil {
				return nil, fmt.Errorf("seed: %w", err)
			}
		}
		fmt.Fprintln(stderr, "load: building and starting portreqd on the", cfg.store, "store")
		var err error
		opts := serverOptions{couch: couch, prefix: prefix, dataDir: dataDir, apiKey: apiKey}
		if cfg.pprofDir != "" {
			if err := os.MkdirAll(cfg.pprofDir, 0o755); err != nil {
				return nil, err
			}
			if opts.debugAddr, err = freeLoopbackAddr(); err != nil {
				return nil, err
			}
		}
		if cfg.countCouch {
			if counter, err = startCouchCounter(couch, prefix); err != nil {
				return nil, err
			}
			defer counter.stop()
			opts.couchURL = counter.url
		}
		srv, err = startServer(ctx, opts, stderr)
		if err != nil {
			return nil, err
		}
		defer func() {
			srv.stop()
			srv.report(stdout)
		}()
		base = srv.url
	} else if err := checkLoopback(base); err != nil {
		return nil, fmt.Errorf("-portreqd: %w", err)
	}
	api := &portreqd{base: strings.TrimRight(base, "/"), client: client}

	rep.Store = describeStore(ctx, cfg, couch, client, prefix)
	fmt.Fprintf(stdout, "portreqd %s, %s\n", api.base, rep.Store)
	fmt.Fprintln(stdout, rep.Machine)
	fmt.Fprintln(stdout, rep.Caveat)

	if couch != nil && ds != nil {
		// pouchdb-server (and CouchDB) build a view index on its first
		// query; thousands of documents written behind portreqd's back
		// would make the first measured request wait for it.
		t := time.Now()
		if err := couch.primeViews(ctx, prefix, stderr); err != nil {
			return rep, err
		}
		ds.notes = append(ds.notes, fmt.Sprintf("CouchDB views indexed before measuring (%.1fs)", time.Since(t).Seconds()))
	}
	if err := api.login(ctx, apiKey); err != nil {
		return rep, err
	}
	if ds != nil && api.master != ds.master {
		return rep, fmt.Errorf("portreqd's master account is %s, not the seeded %s: it did not find the seeded master", api.master, ds.master)
	}
	if ds == nil {
		fmt.Fprintf(stderr, "load: seeding %d port requests through the API\n", cfg.requests)
		var err error
		if ds, err = seedViaAPI(ctx, api, cfg.requests); err != nil {
			return rep, fmt.Errorf("seed: %w", err)
		}
	}
	var scratch string
	if couch != nil {
		if ds.rawDoc == nil {
			if err := ds.readRawDoc(ctx, couch, client, prefix); err != nil {
				return rep, err
			}
		}
		scratch = prefix + "loadtest_scratch"
		if err := couch.createDB(ctx, client, scratch); err != nil {
			return rep, err
		}
		defer couch.deleteDB(context.Background(), client, scratch)
	}
	if err := checkSeed(ctx, api, ds); err != nil {
		return rep, fmt.Errorf("seed check: %w", err)
	}
	rep.Seed = ds.notes
	for _, n := range ds.notes {
		fmt.Fprintln(stdout, "seed: "+n)
	}

	ceiling, err := startTrivial(ctx, stderr)
	if err != nil {
		return rep, fmt.Errorf("ceiling server: %w", err)
	}
	defer ceiling.stop()

	e := &env{api: api, couch: couch, client: client, seed: ds, prefix: prefix, scratch: scratch, cfg: cfg, trivialURL: ceiling.url}
	pids, names := []int{ceiling.cmd.Process.Pid}, []string{"the ceiling server"}
	if srv != nil {
		pids, names = append(pids, srv.pid()), append(names, "portreqd")
	}
	if couch != nil {
		pid := 0
		if u, err := url.Parse(couch.base); err == nil {
			if port, err := strconv.Atoi(u.Port()); err == nil {
				pid = listenerPID(port)
			}
		}
		pids, names = append(pids, pid), append(names, "the CouchDB server")
	}
	e.cpu = newCPUWatch(pids, names)
	e.counter = counter
	if srv != nil {
		if cfg.pprofDir != "" {
			e.pprofURL = "http://" + srv.debugAddr
		}
		e.rss = newRSSWatch(srv.pid())
		if m, err := readRSS(srv.pid()); err == nil {
			rep.Memory = &memory{StartMB: m.rssMB}
		}
	}
	// The whole-life peak: the attachment check resets VmHWM before each
	// transfer, so the peak before it and those of its transfers are kept
	// here.
	lifePeak := 0.0
	if cfg.attachCheck {
		pid := 0
		if srv != nil {
			pid = srv.pid()
			if m, err := readRSS(pid); err == nil {
				lifePeak = m.hwmMB
			}
		}
		am, err := checkAttachmentMemory(ctx, e, pid, stderr)
		rep.Attachments = am
		if err != nil {
			return rep, err
		}
		for _, c := range am.Cases {
			lifePeak = max(lifePeak, c.PeakMB)
		}
	}
	rows, err := runScenarios(ctx, e, stderr)
	rep.Rows = rows
	if _, ok := machineBusy(); ok {
		rep.Noise = noiseLine(rows, e.cpu.what)
	}
	if e.rss != nil && rep.Memory != nil {
		e.rss.summarize(rep.Memory, slices.Max(cfg.clients))
		if m, err := readRSS(srv.pid()); err == nil {
			rep.Memory.PeakMB = max(m.hwmMB, lifePeak)
		}
	}
	if len(rows) > 0 {
		printTable(stdout, rep)
	}
	return rep, err
}

// describeStore names the store for the report: CouchDB's vendor and
// version as it answers GET /, or the embedded bbolt store.
func describeStore(ctx context.Context, cfg *config, c *couchServer, client *http.Client, prefix string) string {
	if c == nil {
		if cfg.portreqd != "" {
			return "store: " + cfg.store + " (a running portreqd)"
		}
		return "store: embedded (bbolt, fsync on every commit, data directory on this machine's disk)"
	}
	desc := "store: CouchDB " + c.masked
	if m, err := c.call(ctx, client, http.MethodGet, "/", nil, http.StatusOK); err == nil {
		name := "couchdb"
		if v, ok := m["vendor"].(map[string]any); ok {
			if n, ok := v["name"].(string); ok {
				name = n
			}
		}
		if _, ok := m["express-pouchdb"]; ok {
			name = "pouchdb-server"
		}
		if ver, ok := m["version"].(string); ok {
			desc = fmt.Sprintf("store: CouchDB API of %s %s at %s", name, ver, c.masked)
		}
	}
	return desc + fmt.Sprintf(", db prefix %q", prefix)
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

// couchServer addresses the raw CouchDB: the URL without userinfo, plus a
// ready Authorization header, so that the password never appears in
// anything printed (masked is the redacted URL).
type couchServer struct {
	base   string
	auth   string
	masked string
	raw    string // with credentials, only handed to portreqd and the Kazoo store seeding it
}

func newCouch(raw string) (*couchServer, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("-couchdb must be an http:// or https:// URL")
	}
	if err := checkLoopback(raw); err != nil {
		return nil, fmt.Errorf("-couchdb: %w", err)
	}
	c := &couchServer{masked: u.Redacted(), raw: raw}
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
