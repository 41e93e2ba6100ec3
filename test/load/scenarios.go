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
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// scenarioNames is the order the scenarios run (and are reported) in.
var scenarioNames = []string{"get_account", "get_request", "page_completed_50", "create_request", "submit_request"}

// env is what every scenario may use.
type env struct {
	api     *portreqd
	couch   *couch
	client  *http.Client
	seed    *seed
	prefix  string
	scratch string
	cfg     *config
}

// op sends one request. A non-nil error counts as a failed request, except
// errPoolEmpty, which ends the worker.
type op func(ctx context.Context, w *worker) error

var errPoolEmpty = errors.New("pool empty")

// worker is one closed-loop client: its own random source, so that picking
// ids costs no lock.
type worker struct {
	rng *rand.Rand
}

// scenario pairs a portreqd operation with the raw CouchDB operation it
// rests on. prepare runs before each measurement (outside the clock) and
// returns the operation, so that state such as a pool of requests belongs
// to one client count.
type scenario struct {
	name     string
	baseline string // name of the baseline scenario, "" for none
	note     string
	prepare  func(ctx context.Context, e *env, clients int, rates map[string]float64) (op, error)
}

// scenarios returns the portreqd scenarios and the baselines by name.
func scenarios() ([]*scenario, map[string]*scenario) {
	main := []*scenario{
		{name: "get_account", baseline: "couch_get_account_doc",
			note: "a ratio above 1 means portreqd answered from its short-lived account cache, without a CouchDB round trip",
			prepare: func(_ context.Context, e *env, _ int, _ map[string]float64) (op, error) {
				path := "/v2/accounts/" + e.seed.account
				return func(ctx context.Context, _ *worker) error {
					return e.send(e.api.newRequest(ctx, http.MethodGet, path, nil))
				}, nil
			}},
		{name: "get_request", baseline: "couch_get_request_doc", prepare: func(_ context.Context, e *env, _ int, _ map[string]float64) (op, error) {
			prefix := "/v2/accounts/" + e.seed.account + "/port_requests/"
			ids := e.seed.ids
			return func(ctx context.Context, w *worker) error {
				return e.send(e.api.newRequest(ctx, http.MethodGet, prefix+ids[w.rng.IntN(len(ids))], nil))
			}, nil
		}},
		{name: "page_completed_50", baseline: "couch_view_page_50", prepare: func(_ context.Context, e *env, _ int, _ map[string]float64) (op, error) {
			path := "/v2/accounts/" + e.seed.account + "/port_requests/completed?page_size=50"
			return func(ctx context.Context, _ *worker) error {
				return e.send(e.api.newRequest(ctx, http.MethodGet, path, nil))
			}, nil
		}},
		{name: "create_request", baseline: "couch_put_doc", prepare: func(_ context.Context, e *env, _ int, _ map[string]float64) (op, error) {
			path := "/v2/accounts/" + e.seed.account + "/port_requests"
			var n atomic.Int64
			return func(ctx context.Context, _ *worker) error {
				body := requestBody("load c"+strconv.FormatInt(n.Add(1), 10), e.seed.numbers.next())
				return e.send(e.api.newRequest(ctx, http.MethodPut, path, body))
			}, nil
		}},
		{name: "submit_request", baseline: "couch_put_doc",
			note:    "several round trips (read, claims, write); no single raw equivalent, compared with couch_put_doc",
			prepare: prepareSubmit},
	}
	baselines := map[string]*scenario{
		"couch_get_account_doc": {name: "couch_get_account_doc", prepare: func(_ context.Context, e *env, _ int, _ map[string]float64) (op, error) {
			path := "/" + url.PathEscape(e.prefix+"accounts") + "/" + e.seed.account
			return func(ctx context.Context, _ *worker) error {
				return e.send(e.couch.newRequest(ctx, http.MethodGet, path, nil))
			}, nil
		}},
		"couch_get_request_doc": {name: "couch_get_request_doc", prepare: func(_ context.Context, e *env, _ int, _ map[string]float64) (op, error) {
			prefix := "/" + url.PathEscape(e.prefix+"port_requests") + "/"
			ids := e.seed.ids
			return func(ctx context.Context, w *worker) error {
				return e.send(e.couch.newRequest(ctx, http.MethodGet, prefix+ids[w.rng.IntN(len(ids))], nil))
			}, nil
		}},
		"couch_view_page_50": {name: "couch_view_page_50", prepare: func(_ context.Context, e *env, _ int, _ map[string]float64) (op, error) {
			// The query couchstore.ListRequests makes for the first page:
			// newest first, one row more than the page to learn whether a
			// next page exists. The store bounds the keys by the 31-day
			// modified window instead of {} and 0; every seeded row lies
			// inside it, so both read the same 51 rows.
			a := e.seed.account
			q := url.Values{}
			q.Set("descending", "true")
			q.Set("startkey", `["`+a+`","completed",{}]`)
			q.Set("endkey", `["`+a+`","completed",0]`)
			q.Set("include_docs", "true")
			q.Set("limit", "51")
			path := "/" + url.PathEscape(e.prefix+"port_requests") + "/_design/port_requests/_view/listing_by_state?" + q.Encode()
			return func(ctx context.Context, _ *worker) error {
				return e.send(e.couch.newRequest(ctx, http.MethodGet, path, nil))
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
	}
	return main, baselines
}

// prepareSubmit creates the pool of unconfirmed requests this measurement
// will submit, each with its own number (a submit claims its numbers, so a
// request can be submitted only once). The size comes from the create rate
// just measured at the same client count: submitting does more than
// creating, so that many cannot run out; if it does, the run stops early
// and reports what it did.
func prepareSubmit(ctx context.Context, e *env, clients int, rates map[string]float64) (op, error) {
	window := (e.cfg.warmup + e.cfg.duration).Seconds()
	size := int(math.Ceil(rates[rateKey("create_request", clients)]*window*1.2)) + clients
	size = min(max(size, 4*clients, 20), e.cfg.maxRequests)
	ids, err := createRequests(ctx, e.api, e.seed.account, e.seed.numbers, size, "load pool")
	if err != nil {
		return nil, fmt.Errorf("submit pool of %d: %w", size, err)
	}
	prefix := "/v2/accounts/" + e.seed.account + "/port_requests/"
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

// runScenarios runs every scenario at every client count, each right after
// its baseline at the same client count, so that the pair sees the same
// machine state; a baseline shared by two scenarios runs once per count.
func runScenarios(ctx context.Context, e *env, stderr io.Writer) ([]*result, error) {
	cfg := e.cfg
	main, baselines := scenarios()
	lat := make([]time.Duration, cfg.maxRequests) // reused by every run
	rates := map[string]float64{}
	done := map[string]*result{}
	var rows []*result
	measure := func(s *scenario, clients int) (*result, error) {
		o, err := s.prepare(ctx, e, clients, rates)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Fprintf(stderr, "load: %s, %d client(s)\n", s.name, clients)
		r := runLoad(ctx, s.name, clients, cfg.warmup, cfg.duration, lat, o)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		rates[rateKey(s.name, clients)] = r.Rate
		return r, nil
	}
	for _, s := range main {
		for _, c := range cfg.clients {
			var base *result
			if s.baseline != "" {
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
			if s.note != "" {
				r.Notes = append([]string{s.note}, r.Notes...)
			}
			if base != nil {
				r.Baseline, r.BaselineRate = base.Scenario, base.Rate
				if base.Rate > 0 {
					r.Ratio = r.Rate / base.Rate
				}
			}
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// runLoad runs clients closed-loop workers: each sends its next request as
// soon as the previous one answered. Requests started during the warmup are
// not measured; requests started before the end are measured to their end.
// lat is the preallocated latency store; its length caps the measured
// requests of the run.
func runLoad(ctx context.Context, name string, clients int, warmup, duration time.Duration, lat []time.Duration, o op) *result {
	var (
		n, warmErrs, errs atomic.Int64
		exhausted         atomic.Bool
		mu                sync.Mutex
		firstErrs         []string
		lastEnd           atomic.Int64 // unix nanos of the latest measured answer
		wg                sync.WaitGroup
	)
	start := time.Now()
	t0 := start.Add(warmup)
	end := t0.Add(duration)
	for i := range clients {
		wg.Go(func() {
			w := &worker{rng: rand.New(rand.NewPCG(uint64(start.UnixNano()), uint64(i)))}
			for ctx.Err() == nil {
				begin := time.Now()
				if !begin.Before(end) {
					return
				}
				err := o(ctx, w)
				if errors.Is(err, errPoolEmpty) {
					exhausted.Store(true)
					return
				}
				done := time.Now()
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
