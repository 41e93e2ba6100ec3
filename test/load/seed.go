package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/portreqd/portreqd/views"
)

// seedWorkers is how many requests seeding and pool building keep in
// flight: enough to be quick, few enough not to trip pouchdb-server.
const seedWorkers = 8

// portreqd is the API under test, spoken the Kazoo way: {"data":…} bodies
// and the X-Auth-Token header.
type portreqd struct {
	base   string
	client *http.Client
	token  string
	master string // the master account, learnt at login
}

// newRequest builds an API request; body may be nil. It is used both by
// seeding and by the measured loop, so it does nothing expensive.
func (p *portreqd) newRequest(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if p.token != "" {
		req.Header.Set("X-Auth-Token", p.token)
	}
	return req, nil
}

// call sends one API request and decodes the envelope; a status other than
// want is an error carrying the server's message.
func (p *portreqd) call(ctx context.Context, method, path string, body []byte, want int) (map[string]any, error) {
	req, err := p.newRequest(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	return decode(p.client, req, want)
}

// newRequest builds a raw CouchDB request with the basic-auth header.
func (c *couchServer) newRequest(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	return req, nil
}

func (c *couchServer) call(ctx context.Context, client *http.Client, method, path string, body []byte, want int) (map[string]any, error) {
	req, err := c.newRequest(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	return decode(client, req, want)
}

// createDB creates a database; 412 (it exists) is fine.
func (c *couchServer) createDB(ctx context.Context, client *http.Client, name string) error {
	_, err := c.call(ctx, client, http.MethodPut, "/"+url.PathEscape(name), nil, http.StatusCreated)
	var se *statusError
	if errors.As(err, &se) && se.status == http.StatusPreconditionFailed {
		return nil
	}
	return err
}

// deleteDB deletes a database. A "+" in the name (numbers/+1202) goes as
// %2B: CouchDB reads a literal "+" in a path as a space, so the DELETE
// missed every number database and each run left ~100 of them behind.
func (c *couchServer) deleteDB(ctx context.Context, client *http.Client, name string) {
	path := "/" + strings.ReplaceAll(url.PathEscape(name), "+", "%2B")
	_, _ = c.call(ctx, client, http.MethodDelete, path, nil, http.StatusOK)
}

// dropPrefix deletes every database of a prefix this tool invented, so that
// repeated runs do not fill the dev server.
func (c *couchServer) dropPrefix(ctx context.Context, client *http.Client, prefix string, stderr io.Writer) {
	req, err := c.newRequest(ctx, http.MethodGet, "/_all_dbs", nil)
	if err != nil {
		return
	}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "load: list databases for cleanup:", err)
		return
	}
	defer resp.Body.Close()
	var names []string
	if err := json.NewDecoder(resp.Body).Decode(&names); err != nil {
		fmt.Fprintln(stderr, "load: list databases for cleanup:", err)
		return
	}
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			c.deleteDB(ctx, client, n)
		}
	}
}

// primeViews queries every view of the design documents portreqd
// installs in the global databases (its own, and Kazoo's, which CouchDB
// would otherwise build in the background) once, with a client that
// waits as long as the index build takes, so that no measured request
// pays for indexing documents seeded behind the server's back.
func (c *couchServer) primeViews(ctx context.Context, prefix string, stderr io.Writer) error {
	docs, err := views.Own()
	if err != nil {
		return err
	}
	kz, err := views.Kazoo()
	if err != nil {
		return err
	}
	for _, d := range kz {
		if d.DB == views.ClassAccounts || d.DB == views.ClassPortRequests {
			docs = append(docs, d)
		}
	}
	slow := &http.Client{Transport: &http.Transport{Proxy: nil, DisableCompression: true}}
	defer slow.CloseIdleConnections()
	for _, d := range docs {
		for _, v := range d.Views() {
			fmt.Fprintf(stderr, "load: indexing %s%s %s/%s\n", prefix, d.DB, d.ID, v)
			path := "/" + url.PathEscape(prefix+d.DB) + "/" + d.ID + "/_view/" + url.PathEscape(v) + "?limit=1"
			if _, err := c.call(ctx, slow, http.MethodGet, path, nil, http.StatusOK); err != nil {
				return fmt.Errorf("index view %s/%s: %w", d.ID, v, err)
			}
		}
	}
	return nil
}

// statusError is an answer with an unexpected HTTP status.
type statusError struct {
	status int
	body   string
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.body) }

// decode sends req and decodes a JSON object answer.
func decode(client *http.Client, req *http.Request, want int) (map[string]any, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return nil, &statusError{resp.StatusCode, snippet(b)}
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	return m, nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// numbers hands out distinct valid NANP numbers (+1 and ten digits, the
// first 2-9). The block starts at a random offset so that runs against one
// long-lived portreqd do not collide with the claims of earlier runs.
type numbers struct {
	base int64
	n    atomic.Int64
}

func newNumbers() *numbers {
	return &numbers{base: 2_000_000_000 + rand.Int64N(69)*100_000_000}
}

func (g *numbers) next() string {
	return "+1" + strconv.FormatInt(g.base+g.n.Add(1)%100_000_000, 10)
}

// requestBody is the body of one port request creation with a fresh number.
// It is built by concatenation: no escaping is needed and the measured
// loop stays cheap.
func requestBody(name, number string) []byte {
	b := make([]byte, 0, 200)
	b = append(b, `{"data":{"name":"`...)
	b = append(b, name...)
	b = append(b, `","numbers":{"`...)
	b = append(b, number...)
	b = append(b, `":{}},"bill":{"name":"Load Test","locality":"Chicago","region":"IL","postal_code":"60601"},"carrier":"ACME"}}`...)
	return b
}

// seededRequest is one stored port request the read scenarios pick from.
type seededRequest struct {
	id      string
	account string // its owner: the URL account of every request about it
	number  string // one of its numbers, for by_number
}

// seed is what the scenarios work on.
type seed struct {
	master      string
	pageAccount string // owns at least 50 completed requests in the current window
	workAccount string // where the create, submit and upload pools are made
	requests    []seededRequest
	rawDoc      []byte // a stored request document without _id/_rev: the couch_put_doc body
	numbers     *numbers
	notes       []string // how the data set was made, printed with the results
}

// login exchanges the master API key for a token used by every request.
func (p *portreqd) login(ctx context.Context, apiKey string) error {
	body, _ := json.Marshal(map[string]any{"data": map[string]any{"api_key": apiKey}})
	env, err := p.call(ctx, http.MethodPut, "/v2/api_auth", body, http.StatusCreated)
	if err != nil {
		return fmt.Errorf("api_auth: %w", err)
	}
	token, _ := env["auth_token"].(string)
	p.master, _ = dataField(env, "account_id")
	if token == "" || p.master == "" {
		return errors.New("api_auth: no auth_token or data.account_id in the answer")
	}
	p.token = token
	return nil
}

// seedViaAPI creates a sub-account and the port requests (one number
// each) through the API, and completes enough of them for a full 50-row
// completed page. It is the way to seed a portreqd this tool did not start;
// it cannot spread modified times (they are all "now").
func seedViaAPI(ctx context.Context, api *portreqd, n int) (*seed, error) {
	s := &seed{numbers: newNumbers(), master: api.master}
	env, err := api.call(ctx, http.MethodPut, "/v2/accounts/"+s.master, []byte(`{"data":{"name":"load"}}`), http.StatusCreated)
	if err != nil {
		return nil, fmt.Errorf("create sub-account: %w", err)
	}
	sub, _ := dataField(env, "id")
	if sub == "" {
		return nil, errors.New("create sub-account: no data.id")
	}
	s.pageAccount, s.workAccount = sub, sub
	nums := make([]string, n)
	for i := range nums {
		nums[i] = s.numbers.next()
	}
	ids, err := createRequestsWith(ctx, api, sub, n, "load", func(i int) string { return nums[i] })
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		s.requests = append(s.requests, seededRequest{id: id, account: sub, number: nums[i]})
	}
	completed := min(n, max(60, n/2))
	// Completing walks submitted → pending → completed as the master, the
	// port authority of the sub-account.
	err = parallel(ctx, completed, func(i int) error {
		for _, st := range []string{"submitted?accept_charges=true", "pending", "completed"} {
			if _, err := api.call(ctx, http.MethodPatch, "/v2/accounts/"+sub+"/port_requests/"+ids[i]+"/"+st, nil, http.StatusOK); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("complete: %w", err)
	}
	s.notes = append(s.notes, fmt.Sprintf("through the API: %d port requests of one number each in one sub-account of the master, %d of them completed, the rest unconfirmed; "+
		"all modified during seeding (the API cannot backdate)", n, completed))
	return s, nil
}

// readRawDoc takes the couch_put_doc body from a stored request, so that
// the baseline writes as many bytes as portreqd does.
func (s *seed) readRawDoc(ctx context.Context, c *couchServer, client *http.Client, prefix string) error {
	doc, err := c.call(ctx, client, http.MethodGet, "/"+url.PathEscape(prefix+"port_requests")+"/"+s.requests[len(s.requests)-1].id, nil, http.StatusOK)
	if err != nil {
		return fmt.Errorf("read a stored request from CouchDB (is -db-prefix right?): %w", err)
	}
	delete(doc, "_id")
	delete(doc, "_rev")
	delete(doc, "_attachments")
	s.rawDoc, _ = json.Marshal(doc)
	return nil
}

// checkSeed asks portreqd once, outside any measurement, what the
// scenarios rely on: full 50-row pages, by_number finding its request, a
// request and its LOA readable. A data set portreqd reads differently from
// what the seeder meant fails here with a message instead of as a table of
// errors.
func checkSeed(ctx context.Context, api *portreqd, s *seed) error {
	for _, path := range []string{
		"/v2/accounts/" + s.pageAccount + "/port_requests/completed?page_size=50",
		"/v2/accounts/" + s.master + "/descendants/port_requests/completed?page_size=50",
	} {
		env, err := api.call(ctx, http.MethodGet, path, nil, http.StatusOK)
		if err != nil {
			return fmt.Errorf("GET %s: %w", path, err)
		}
		if rows := pageRows(env); rows != 50 {
			return fmt.Errorf("GET %s: %d rows, want a full page of 50", path, rows)
		}
	}
	for _, i := range []int{0, len(s.requests) / 2, len(s.requests) - 1} {
		r := s.requests[i]
		env, err := api.call(ctx, http.MethodGet, byNumberPath(r), nil, http.StatusOK)
		if err != nil {
			return fmt.Errorf("by_number %s: %w", r.number, err)
		}
		found := false
		list, _ := env["data"].([]any)
		for _, x := range list {
			if m, _ := x.(map[string]any); m["id"] == r.id {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("by_number %s: request %s not in the answer (%d rows)", r.number, r.id, len(list))
		}
		if _, err := api.call(ctx, http.MethodGet, requestPath(r), nil, http.StatusOK); err != nil {
			return fmt.Errorf("GET request %s: %w", r.id, err)
		}
		req, err := api.newRequest(ctx, http.MethodGet, requestPath(r)+"/loa", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", "application/pdf")
		resp, err := api.client.Do(req)
		if err != nil {
			return err
		}
		head := make([]byte, 5)
		_, _ = io.ReadFull(resp.Body, head)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/pdf" || string(head) != "%PDF-" {
			return fmt.Errorf("LOA of %s: HTTP %d, %s, starts %q", r.id, resp.StatusCode, resp.Header.Get("Content-Type"), head)
		}
	}
	return nil
}

func requestPath(r seededRequest) string {
	return "/v2/accounts/" + r.account + "/port_requests/" + r.id
}

func byNumberPath(r seededRequest) string {
	return "/v2/accounts/" + r.account + "/port_requests?by_number=" + url.QueryEscape(r.number)
}

// createRequests creates n unconfirmed port requests of one fresh number
// each.
func createRequests(ctx context.Context, api *portreqd, account string, g *numbers, n int, name string) ([]string, error) {
	return createRequestsWith(ctx, api, account, n, name, func(int) string { return g.next() })
}

func createRequestsWith(ctx context.Context, api *portreqd, account string, n int, name string, number func(i int) string) ([]string, error) {
	ids := make([]string, n)
	err := parallel(ctx, n, func(i int) error {
		env, err := api.call(ctx, http.MethodPut, "/v2/accounts/"+account+"/port_requests",
			requestBody(name+" "+strconv.Itoa(i), number(i)), http.StatusCreated)
		if err != nil {
			return err
		}
		if ids[i], _ = dataField(env, "id"); ids[i] == "" {
			return errors.New("no data.id")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("create port requests: %w", err)
	}
	return ids, nil
}

// parallel runs f(0..n-1) on seedWorkers goroutines and returns the first
// error; after one, the remaining items are skipped.
func parallel(ctx context.Context, n int, f func(i int) error) error {
	var (
		next     atomic.Int64
		once     sync.Once
		firstErr error
		failed   atomic.Bool
		wg       sync.WaitGroup
	)
	for range min(seedWorkers, n) {
		wg.Go(func() {
			for !failed.Load() && ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { firstErr = err })
					failed.Store(true)
				}
			}
		})
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

func dataField(env map[string]any, key string) (string, bool) {
	d, _ := env["data"].(map[string]any)
	s, ok := d[key].(string)
	return s, ok
}

// pageRows counts the requests of a grouped listing
// [{account_id, account_name, port_requests:[…]}].
func pageRows(env map[string]any) int {
	groups, _ := env["data"].([]any)
	n := 0
	for _, g := range groups {
		m, _ := g.(map[string]any)
		rs, _ := m["port_requests"].([]any)
		n += len(rs)
	}
	return n
}
