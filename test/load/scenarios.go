package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/rawjson"
)

// scenarioNames is the order the scenarios run (and are reported) in; all
// of them run by default.
var scenarioNames = []string{
	"get_request", "page_completed_50", "by_number", "descendants_completed_50",
	"create_request", "submit_request", "upload_1mb", "loa", "get_account", mixedName,
}

// checkNames are checks run once per run, not rate scenarios: they add no
// table row but a section of their own. "all" includes them.
var checkNames = []string{attachCheckName}

// extraScenarios run only when named in -scenarios.
var extraScenarios = []string{"descendants_submitted"}

func knownScenarios() []string {
	return slices.Concat(scenarioNames, extraScenarios, checkNames)
}

// defaultScenarios is what "all" selects.
func defaultScenarios() []string { return slices.Concat(scenarioNames, checkNames) }

// selectScenarios reads -scenarios: "all", or names in any order (run in
// the table's order).
func selectScenarios(spec string) ([]string, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" || spec == "all" {
		return defaultScenarios(), nil
	}
	want := map[string]bool{}
	for _, f := range strings.Split(spec, ",") {
		f = strings.TrimSpace(f)
		if f == "all" {
			for _, n := range defaultScenarios() {
				want[n] = true
			}
			continue
		}
		if f == ceilingName {
			continue // always measured
		}
		if !slices.Contains(knownScenarios(), f) {
			return nil, fmt.Errorf("-scenarios: unknown scenario %q (known: %s)", f, strings.Join(knownScenarios(), ", "))
		}
		want[f] = true
	}
	var out []string
	for _, n := range knownScenarios() {
		if want[n] {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("-scenarios: no scenario selected")
	}
	return out, nil
}

// noisyCPU is the CPU other processes may use during a run before its row
// is flagged as noisy.
const noisyCPU = 0.25

// uploadSize is the upload_1mb body: a PDF of 1 MiB.
const uploadSize = 1 << 20

// env is what every scenario may use.
type env struct {
	api        *portreqd
	couch      *couchServer // nil on the embedded store
	client     *http.Client
	seed       *seed
	prefix     string
	scratch    string
	cfg        *config
	trivialURL string
	rss        *rssWatch // nil when portreqd is not this tool's child
	pprofURL   string    // portreqd's debug server, with -pprof
	cpu        *cpuWatch // the run's processes, to tell other processes' CPU use
	counter    *couchCounter

	uploadOnce sync.Once
	upload     []byte
}

// uploadBody is the 1 MiB PDF every upload sends, built once and shared:
// each request reads it through its own bytes.Reader.
func (e *env) uploadBody() []byte {
	e.uploadOnce.Do(func() { e.upload = buildPDF(uploadSize, rand.New(rand.NewPCG(1, 2))) })
	return e.upload
}

// op sends one request. A non-nil error counts as a failed request, except
// errPoolEmpty, which ends the worker.
type op func(ctx context.Context, w *worker) error

var errPoolEmpty = errors.New("pool empty")

// worker is one closed-loop client: its own random source, so that picking
// ids costs no lock, and its own document for baselines that update one.
type worker struct {
	rng *rand.Rand
	n   int
	doc string
	rev string
}

// scenario is one measured operation. prepare runs before each
// measurement (outside the clock) and returns the operation, so that state
// such as a pool of requests belongs to one client count. A portreqd
// scenario names the raw CouchDB baseline it rests on.
type scenario struct {
	name     string
	baseline string // name of the raw CouchDB baseline, "" for none
	note     string
	// baselineNote explains the comparison with the raw CouchDB baseline;
	// shown only when that baseline ran.
	baselineNote string
	portreqd     bool // measures portreqd (memory is sampled)
	prepare      func(ctx context.Context, e *env, clients int, rates map[string]float64) (op, error)
}

func get(path string) func(context.Context, *env, int, map[string]float64) (op, error) {
	return func(_ context.Context, e *env, _ int, _ map[string]float64) (op, error) {
		return func(ctx context.Context, _ *worker) error {
			return e.send(e.api.newRequest(ctx, http.MethodGet, path, nil))
		}, nil
	}
}

// pathsOf precomputes one path per seeded request, so that the measured
// loop only picks one.
func pathsOf(e *env, f func(seededRequest) string) []string {
	out := make([]string, len(e.seed.requests))
	for i, r := range e.seed.requests {
		out[i] = f(r)
	}
	return out
}

// scenarios returns the portreqd scenarios, the ceiling and the baselines
// by name.
func scenarios() (map[string]*scenario, *scenario, map[string]*scenario) {
	list := []*scenario{
		{name: "get_request", baseline: "couch_get_request_doc",
			note: "a random one of every seeded request (all states, all customers)",
			prepare: func(_ context.Context, e *env, _ int, _ map[string]float64) (op, error) {
				paths := pathsOf(e, requestPath)
				return func(ctx context.Context, w *worker) error {
					return e.send(e.api.newRequest(ctx, http.MethodGet, paths[w.rng.IntN(len(paths))], nil))
				}, nil
			}},
		{name: "page_completed_50", baseline: "couch_view_page_50",
			note: "the first 50-row page of completed requests of the biggest customer, default 31-day window",
			prepare: func(ctx context.Context, e *env, c int, r map[string]float64) (op, error) {
				return get("/v2/accounts/"+e.seed.pageAccount+"/port_requests/completed?page_size=50")(ctx, e, c, r)
			}},
		{name: "by_number", baseline: "couch_view_by_number",
			note: "?by_number= one number of a random seeded request, through its account",
			prepare: func(_ context.Context, e *env, _ int, _ map[string]float64) (op, error) {
				paths := pathsOf(e, byNumberPath)
				return func(ctx context.Context, w *worker) error {
					return e.send(e.api.newRequest(ctx, http.MethodGet, paths[w.rng.IntN(len(paths))], nil))
				}, nil
			}},
		{name: "descendants_completed_50", baseline: "couch_view_descendants_50",
			note: "GET /v2/accounts/{master}/descendants/port_requests/completed?page_size=50: the whole tree, grouped by account",
			prepare: func(ctx context.Context, e *env, c int, r map[string]float64) (op, error) {
				return get("/v2/accounts/"+e.seed.master+"/descendants/port_requests/completed?page_size=50")(ctx, e, c, r)
			}},
		{name: "descendants_submitted", baseline: "couch_view_descendants_submitted",
			note: "GET /v2/accounts/{master}/descendants/port_requests/submitted: every submitted request of the tree, unpaginated (its size grows with the data set)",
			prepare: func(ctx context.Context, e *env, c int, r map[string]float64) (op, error) {
				return get("/v2/accounts/"+e.seed.master+"/descendants/port_requests/submitted")(ctx, e, c, r)
			}},
		{name: "create_request", baseline: "couch_put_doc",
			note: "one fresh number each. Store round trips (CouchDB): 3 reads in parallel, then the PUT: the number's database (is it in service?), its claim document (held by an active request?) and Kazoo's port_in_numbers view (held by a request Kazoo wrote, which claims nothing); 2 sequential rounds",
			prepare: func(_ context.Context, e *env, _ int, _ map[string]float64) (op, error) {
				path := "/v2/accounts/" + e.seed.workAccount + "/port_requests"
				var n atomic.Int64
				return func(ctx context.Context, _ *worker) error {
					body := requestBody("load c"+strconv.FormatInt(n.Add(1), 10), e.seed.numbers.next())
					return e.send(e.api.newRequest(ctx, http.MethodPut, path, body))
				}, nil
			}},
		{name: "submit_request", baseline: "couch_put_doc",
			note:         "Store round trips (CouchDB): GET the request; the 3 parallel number checks of create (numbers may have been taken since the draft); one _bulk_docs creating a claim document per number (atomic per number even across replicas); PUT the request in its new state; 4 sequential rounds, 6 requests. A lost race releases the claims (one more _bulk_docs)",
			baselineNote: "several round trips: no single raw equivalent, compared with couch_put_doc",
			prepare:      prepareSubmit},
		{name: "upload_1mb", baseline: "couch_put_attachment_1mb",
			note:    "PUT …/attachments?filename=upload.pdf, a 1 MiB PDF (Content-Type application/pdf) to a pool of unconfirmed requests, replacing the previous upload. Store round trips (CouchDB): GET the request (authorization, current revision), PUT the attachment at that revision (a conflict re-reads and replays the spooled body)",
			prepare: prepareUpload},
		{name: "loa", baseline: "couch_get_request_doc",
			note:         "GET …/{id}/loa with Accept: application/pdf on random seeded requests: renders the letter",
			baselineNote: "compared with the raw request GET",
			prepare: func(_ context.Context, e *env, _ int, _ map[string]float64) (op, error) {
				paths := pathsOf(e, func(r seededRequest) string { return requestPath(r) + "/loa" })
				return func(ctx context.Context, w *worker) error {
					req, err := e.api.newRequest(ctx, http.MethodGet, paths[w.rng.IntN(len(paths))], nil)
					if err == nil {
						req.Header.Set("Accept", "application/pdf")
					}
					return e.send(req, err)
				}, nil
			}},
		{name: "get_account", baseline: "couch_get_account_doc",
			baselineNote: "a ratio above 1 means portreqd answered from its short-lived account cache, without a CouchDB round trip",
			prepare: func(ctx context.Context, e *env, c int, r map[string]float64) (op, error) {
				return get("/v2/accounts/"+e.seed.pageAccount)(ctx, e, c, r)
			}},
		{name: mixedName, baseline: "couch_get_request_doc",
			note:         mixedNote(),
			baselineNote: "compared with the raw request GET, the most frequent request of the mix",
			prepare:      prepareMixed},
	}
	main := map[string]*scenario{}
	for _, s := range list {
		s.portreqd = true
		main[s.name] = s
	}
	ceiling := &scenario{name: ceilingName, note: "the ceiling: a trivial Go JSON handler in a separate process, same client",
		prepare: func(_ context.Context, e *env, _ int, _ map[string]float64) (op, error) {
			u := e.trivialURL + "/"
			return func(ctx context.Context, _ *worker) error {
				return e.send(http.NewRequestWithContext(ctx, http.MethodGet, u, nil))
			}, nil
		}}
	baselines := map[string]*scenario{
		"couch_get_account_doc": {name: "couch_get_account_doc", prepare: func(_ context.Context, e *env, _ int, _ map[string]float64) (op, error) {
			path := "/" + url.PathEscape(e.prefix+dbAccounts) + "/" + e.seed.pageAccount
			return func(ctx context.Context, _ *worker) error {
				return e.send(e.couch.newRequest(ctx, http.MethodGet, path, nil))
			}, nil
		}},
		"couch_get_request_doc": {name: "couch_get_request_doc", prepare: func(_ context.Context, e *env, _ int, _ map[string]float64) (op, error) {
			paths := pathsOf(e, func(r seededRequest) string { return "/" + url.PathEscape(e.prefix+dbPortRequests) + "/" + r.id })
			return func(ctx context.Context, w *worker) error {
				return e.send(e.couch.newRequest(ctx, http.MethodGet, paths[w.rng.IntN(len(paths))], nil))
			}, nil
		}},
		// The query kazoo.Store.ListRequests makes for the first page: the
		// default window ending now, newest first, one row more than the
		// page to learn whether a next page exists.
		"couch_view_page_50": {name: "couch_view_page_50", prepare: func(_ context.Context, e *env, _ int, _ map[string]float64) (op, error) {
			return e.couchGet(windowQuery(e, "listing_by_state", e.seed.pageAccount, "completed", true, 51)), nil
		}},
		"couch_view_descendants_50": {name: "couch_view_descendants_50", prepare: func(_ context.Context, e *env, _ int, _ map[string]float64) (op, error) {
			return e.couchGet(windowQuery(e, "listing_by_descendant_state", e.seed.master, "completed", true, 51)), nil
		}},
		"couch_view_descendants_submitted": {name: "couch_view_descendants_submitted", prepare: func(_ context.Context, e *env, _ int, _ map[string]float64) (op, error) {
			return e.couchGet(windowQuery(e, "listing_by_descendant_state", e.seed.master, "submitted", false, 0)), nil
		}},
		// kazoo.Store.RequestsByNumber: the view by number, with documents.
		"couch_view_by_number": {name: "couch_view_by_number", prepare: func(_ context.Context, e *env, _ int, _ map[string]float64) (op, error) {
			paths := pathsOf(e, func(r seededRequest) string {
				q := url.Values{}
				q.Set("key", string(rawjson.AppendString(nil, r.number))) // a JSON view key
				q.Set("include_docs", "true")
				return "/" + url.PathEscape(e.prefix+dbPortRequests) + "/_design/portreqd/_view/listing_by_number?" + q.Encode()
			})
			return func(ctx context.Context, w *worker) error {
				return e.send(e.couch.newRequest(ctx, http.MethodGet, paths[w.rng.IntN(len(paths))], nil))
			}, nil
		}},
		"couch_put_doc": {name: "couch_put_doc", prepare: func(_ context.Context, e *env, _ int, _ map[string]float64) (op, error) {
			prefix := "/" + url.PathEscape(e.scratch) + "/"
			body := e.seed.rawDoc // shared: every request reads it through its own bytes.Reader
			return func(ctx context.Context, w *worker) error {
				id := fmt.Sprintf("%016x%016x", w.rng.Uint64(), w.rng.Uint64())
				return e.send(e.couch.newRequest(ctx, http.MethodPut, prefix+id, body))
			}, nil
		}},
		// One attachment PUT per upload, each worker replacing the
		// attachment of its own scratch document (as the portreqd scenario
		// replaces upload.pdf), so that the scratch database does not grow
		// by a megabyte per request.
		"couch_put_attachment_1mb": {name: "couch_put_attachment_1mb", prepare: func(_ context.Context, e *env, _ int, _ map[string]float64) (op, error) {
			prefix := "/" + url.PathEscape(e.scratch) + "/"
			body := e.uploadBody()
			return func(ctx context.Context, w *worker) error {
				if w.doc == "" {
					w.doc = fmt.Sprintf("upload%016x", w.rng.Uint64())
				}
				path := prefix + w.doc + "/upload.pdf"
				if w.rev != "" {
					path += "?rev=" + url.QueryEscape(w.rev)
				}
				req, err := e.couch.newRequest(ctx, http.MethodPut, path, body)
				if err != nil {
					return err
				}
				req.Header.Set("Content-Type", "application/pdf")
				m, err := decode(e.client, req, http.StatusCreated)
				if err != nil {
					w.doc, w.rev = "", "" // start over on a fresh document
					return err
				}
				w.rev, _ = m["rev"].(string)
				return nil
			}, nil
		}},
	}
	return main, ceiling, baselines
}

// windowQuery is the view read kazoo.Store.ListRequests makes: for a
// windowed state the default window (ending now, MaxWindow long) and
// limit, otherwise every row of the state.
func windowQuery(e *env, view, account, state string, windowed bool, limit int) string {
	q := url.Values{}
	q.Set("descending", "true")
	q.Set("include_docs", "true")
	if windowed {
		now := porting.Gregorian(time.Now())
		q.Set("startkey", fmt.Sprintf(`[%q,%q,%d]`, account, state, now))
		q.Set("endkey", fmt.Sprintf(`[%q,%q,%d]`, account, state, now-porting.MaxWindow))
	} else {
		q.Set("startkey", fmt.Sprintf(`[%q,%q,{}]`, account, state))
		q.Set("endkey", fmt.Sprintf(`[%q,%q,0]`, account, state))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	return "/" + url.PathEscape(e.prefix+dbPortRequests) + "/_design/portreqd/_view/" + view + "?" + q.Encode()
}

func (e *env) couchGet(path string) op {
	return func(ctx context.Context, _ *worker) error {
		return e.send(e.couch.newRequest(ctx, http.MethodGet, path, nil))
	}
}

// prepareUpload creates the pool of unconfirmed requests the uploads go
// to: twice as many as clients, so that concurrent uploads seldom meet on
// one request; each upload replaces the previous one's upload.pdf.
func prepareUpload(ctx context.Context, e *env, clients int, _ map[string]float64) (op, error) {
	size := max(2*clients, 8)
	ids, err := createRequests(ctx, e.api, e.seed.workAccount, e.seed.numbers, size, "load upload pool")
	if err != nil {
		return nil, fmt.Errorf("upload pool of %d: %w", size, err)
	}
	paths := make([]string, len(ids))
	for i, id := range ids {
		paths[i] = "/v2/accounts/" + e.seed.workAccount + "/port_requests/" + id + "/attachments?filename=upload.pdf"
	}
	body := e.uploadBody()
	var next atomic.Int64
	return func(ctx context.Context, _ *worker) error {
		i := int(next.Add(1)-1) % len(paths)
		req, err := e.api.newRequest(ctx, http.MethodPut, paths[i], body)
		if err == nil {
			req.Header.Set("Content-Type", "application/pdf")
		}
		return e.send(req, err)
	}, nil
}

// prepareSubmit creates the pool of unconfirmed requests this measurement
// will submit, each with its own number (a submit claims its numbers, so a
// request can be submitted only once). The size comes from the create rate
// just measured at the same client count: submitting does more than
// creating, so that many cannot run out; if it does, the run stops early
// and reports what it did.
func prepareSubmit(ctx context.Context, e *env, clients int, rates map[string]float64) (op, error) {
	window := (e.cfg.warmup + e.cfg.duration).Seconds()
	rate, ok := rates[rateKey("create_request", clients)]
	if !ok {
		rate = 500 // create_request was not measured: a guess; an exhausted pool is reported
	}
	size := int(math.Ceil(rate*window*2)) + clients
	size = min(max(size, 4*clients, 20), e.cfg.maxRequests)
	ids, err := createRequests(ctx, e.api, e.seed.workAccount, e.seed.numbers, size, "load pool")
	if err != nil {
		return nil, fmt.Errorf("submit pool of %d: %w", size, err)
	}
	prefix := "/v2/accounts/" + e.seed.workAccount + "/port_requests/"
	var next atomic.Int64
	return func(ctx context.Context, _ *worker) error {
		i := int(next.Add(1) - 1)
		if i >= len(ids) {
			return errPoolEmpty
		}
		// accept_charges: a portreqd started with charges would answer 402.
		return e.send(e.api.newRequest(ctx, http.MethodPatch, prefix+ids[i]+"/submitted?accept_charges=true", nil))
	}, nil
}

// profile fetches a CPU profile of portreqd over the measured part of the
// run starting now; the returned function waits for it and then saves a
// heap profile too, both into -pprof's directory.
func (e *env) profile(ctx context.Context, name string, clients int, stderr io.Writer) func() {
	secs := max(1, int(e.cfg.duration/time.Second))
	base := filepath.Join(e.cfg.pprofDir, fmt.Sprintf("%s-c%d", name, clients))
	save := func(path, file string) {
		e.savePprof(ctx, path, file, time.Duration(secs)*time.Second+30*time.Second, stderr)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-time.After(e.cfg.warmup):
		case <-ctx.Done():
			return
		}
		save("/debug/pprof/profile?seconds="+strconv.Itoa(secs), base+".cpu.pprof")
	})
	return func() {
		wg.Wait()
		save("/debug/pprof/heap", base+".heap.pprof")
	}
}

func rateKey(name string, clients int) string { return name + "/" + strconv.Itoa(clients) }

// send performs one measured request: the body is drained to io.Discard so
// that the connection goes back to the pool; only a failing answer is read
// for its message.
func (e *env) send(req *http.Request, err error) error {
	if err != nil {
		return err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		_, _ = io.Copy(io.Discard, resp.Body)
		return &statusError{resp.StatusCode, snippet(b)}
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// runScenarios measures the ceiling at every client count, then every
// selected scenario at every client count, then the ceiling again, each right after its raw
// CouchDB baseline at the same client count (CouchDB store only), so that
// the pair sees the same machine state; a baseline shared by two scenarios
// runs once per count. Every row gets its ratio to the ceiling.
func runScenarios(ctx context.Context, e *env, stderr io.Writer) ([]*result, error) {
	cfg := e.cfg
	main, ceiling, baselines := scenarios()
	lat := make([]time.Duration, cfg.maxRequests) // reused by every run
	rates := map[string]float64{}
	ceilings := map[int]float64{}
	done := map[string]*result{}
	var rows []*result
	measure := func(s *scenario, clients int) (*result, error) {
		o, err := s.prepare(ctx, e, clients, rates)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Fprintf(stderr, "load: %s, %d client(s)\n", s.name, clients)
		var waited time.Duration
		if cfg.quietWait > 0 {
			waited = e.cpu.waitQuiet(ctx, cfg.quietWait)
		}
		var stop func() (rssSample, float64)
		hwm0 := 0.0
		if s.portreqd && e.rss != nil {
			if m, err := readRSS(e.rss.pid); err == nil {
				hwm0 = m.hwmMB
			}
			stop = e.rss.during(s.name, clients, cfg.warmup)
		}
		var profiled func()
		if s.portreqd && e.pprofURL != "" && clients == slices.Max(cfg.clients) {
			profiled = e.profile(ctx, s.name, clients, stderr)
		}
		var counted map[string]int
		if e.counter != nil && s.portreqd {
			counted = e.counter.snapshot()
		}
		mark, began := e.cpu.mark(), time.Now()
		r := runLoad(ctx, s.name, clients, cfg.warmup, cfg.duration, lat, o)
		if counted != nil {
			var desc string
			if r.CouchPerRequest, desc = e.counter.perRequest(counted, r.Sent); desc != "" {
				r.Notes = append(r.Notes, desc)
			}
		}
		if others, ok := e.cpu.others(mark, time.Since(began).Seconds()); ok {
			r.OthersCPU = others
			if others >= noisyCPU {
				r.Notes = append(r.Notes, fmt.Sprintf("other processes on the machine used %.2f CPU (of %d) during this run: noisy", others, runtime.NumCPU()))
			}
			if waited >= time.Second {
				r.Notes = append(r.Notes, fmt.Sprintf("waited %.0fs for other processes to quiet down before this run", waited.Seconds()))
			}
		}
		if profiled != nil {
			profiled()
		}
		if stop != nil {
			largest, hwm := stop()
			r.RSSMB, r.AnonMB = largest.rssMB, largest.anonMB
			if hwm > hwm0+2 {
				r.HWMMB = hwm
				r.Notes = append(r.Notes, fmt.Sprintf("portreqd's peak RSS (VmHWM) rose from %.1f to %.1f MB during this run", hwm0, hwm))
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		rates[rateKey(s.name, clients)] = r.Rate
		if c := ceilings[clients]; c > 0 {
			r.VsCeiling = r.Rate / c
		}
		if s.note != "" {
			r.Notes = append([]string{s.note}, r.Notes...)
		}
		return r, nil
	}
	for _, c := range cfg.clients {
		r, err := measure(ceiling, c)
		if err != nil {
			return rows, err
		}
		ceilings[c] = r.Rate
		r.VsCeiling = 1
		rows = append(rows, r)
	}
	for _, name := range cfg.scenarios {
		s := main[name]
		for _, c := range cfg.clients {
			var base *result
			if s.baseline != "" && e.couch != nil {
				key := rateKey(s.baseline, c)
				if base = done[key]; base == nil {
					var err error
					if base, err = measure(baselines[s.baseline], c); err != nil {
						return rows, err
					}
					done[key] = base
					rows = append(rows, base)
				}
			}
			r, err := measure(s, c)
			if err != nil {
				return rows, err
			}
			switch {
			case base != nil:
				if s.baselineNote != "" {
					at := 0
					if s.note != "" {
						at = 1 // after the scenario's own note
					}
					r.Notes = slices.Insert(r.Notes, at, s.baselineNote)
				}
				r.Baseline, r.BaselineRate = base.Scenario, base.Rate
				if base.Rate > 0 {
					r.Ratio = r.Rate / base.Rate
				}
			case e.couch == nil && ceilings[c] > 0:
				// No raw store to compare with: the ratio is to the ceiling.
				r.Baseline, r.BaselineRate, r.Ratio = ceilingName, ceilings[c], r.VsCeiling
			}
			rows = append(rows, r)
		}
	}
	// The ceiling again: a ceiling measured while something else ran on
	// the machine would flatter every ratio to it. The higher of the two
	// measurements is the ceiling.
	for _, c := range cfg.clients {
		r, err := measure(ceiling, c)
		if err != nil {
			return rows, err
		}
		r.Notes = append(r.Notes, "measured again after the scenarios; the higher of the two rates is the ceiling of every vs ceiling")
		rows = append(rows, r)
		ceilings[c] = max(ceilings[c], r.Rate)
	}
	for _, r := range rows {
		c := ceilings[r.Clients]
		if c <= 0 {
			continue
		}
		r.VsCeiling = r.Rate / c
		if r.Baseline == ceilingName {
			r.BaselineRate, r.Ratio = c, r.VsCeiling
		}
	}
	return rows, nil
}

// runLoad runs clients closed-loop workers: each sends its next request as
// soon as the previous one answered. Requests started during the warmup are
// not measured; requests started before the end are measured to their end,
// and every worker measures at least one request (a request slower than
// the whole duration, such as a 1 MB upload in a CI smoke run, would
// otherwise leave the row empty). lat is the preallocated latency store; its length caps the measured
// requests of the run.
func runLoad(ctx context.Context, name string, clients int, warmup, duration time.Duration, lat []time.Duration, o op) *result {
	var (
		n, warmErrs, errs, sent atomic.Int64
		exhausted               atomic.Bool
		mu                      sync.Mutex
		firstErrs               []string
		lastEnd                 atomic.Int64 // unix nanos of the latest measured answer
		wg                      sync.WaitGroup
	)
	start := time.Now()
	t0 := start.Add(warmup)
	end := t0.Add(duration)
	for i := range clients {
		wg.Go(func() {
			w := &worker{rng: rand.New(rand.NewPCG(uint64(start.UnixNano()), uint64(i))), n: i}
			measured := false
			for ctx.Err() == nil {
				begin := time.Now()
				if !begin.Before(end) && measured {
					return
				}
				measured = measured || !begin.Before(t0)
				err := o(ctx, w)
				if errors.Is(err, errPoolEmpty) {
					exhausted.Store(true)
					return
				}
				done := time.Now()
				sent.Add(1)
				if err != nil {
					mu.Lock()
					if len(firstErrs) < 3 {
						firstErrs = append(firstErrs, err.Error())
					}
					mu.Unlock()
				}
				if begin.Before(t0) {
					if err != nil {
						warmErrs.Add(1)
					}
					continue
				}
				k := n.Add(1) - 1
				if int(k) >= len(lat) {
					n.Add(-1)
					return
				}
				lat[k] = done.Sub(begin)
				if err != nil {
					errs.Add(1)
				}
				for {
					prev := lastEnd.Load()
					if done.UnixNano() <= prev || lastEnd.CompareAndSwap(prev, done.UnixNano()) {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	count := int(n.Load())
	r := summarize(name, clients, lat[:count], int(errs.Load()), t0, time.Unix(0, lastEnd.Load()))
	r.Sent = int(sent.Load())
	if count >= len(lat) {
		r.Notes = append(r.Notes, fmt.Sprintf("stopped at the -max-requests cap of %d", len(lat)))
	}
	if exhausted.Load() {
		r.Notes = append(r.Notes, fmt.Sprintf("request pool ran out: stopped early after %d measured requests", count))
	}
	if w := warmErrs.Load(); w > 0 {
		r.WarmupErrors = int(w)
		r.Notes = append(r.Notes, fmt.Sprintf("%d error(s) during warmup", w))
	}
	for _, m := range firstErrs {
		r.Notes = append(r.Notes, "error: "+m)
	}
	return r
}
