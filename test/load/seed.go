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
func (c *couch) newRequest(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
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

func (c *couch) call(ctx context.Context, client *http.Client, method, path string, body []byte, want int) (map[string]any, error) {
	req, err := c.newRequest(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	return decode(client, req, want)
}

// createDB creates a database; 412 (it exists) is fine.
func (c *couch) createDB(ctx context.Context, client *http.Client, name string) error {
	_, err := c.call(ctx, client, http.MethodPut, "/"+url.PathEscape(name), nil, http.StatusCreated)
	var se *statusError
	if errors.As(err, &se) && se.status == http.StatusPreconditionFailed {
		return nil
	}
	return err
}

func (c *couch) deleteDB(ctx context.Context, client *http.Client, name string) {
	_, _ = c.call(ctx, client, http.MethodDelete, "/"+url.PathEscape(name), nil, http.StatusOK)
}

// dropPrefix deletes every database of a prefix this tool invented, so that
// repeated runs do not fill the dev server.
func (c *couch) dropPrefix(ctx context.Context, client *http.Client, prefix string, stderr io.Writer) {
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

// seed is what the scenarios work on.
type seed struct {
	master    string
	account   string   // the sub-account all requests belong to
	ids       []string // every seeded request
	completed int      // how many of ids (the first ones) are completed
	rawDoc    []byte   // a stored request document without _id/_rev: the couch_put_doc body
	numbers   *numbers
}

// seedData logs in, creates a sub-account and the port requests, and completes
// enough of them for a full 50-row completed page.
func seedData(ctx context.Context, api *portreqd, c *couch, prefix, apiKey string, n int) (*seed, error) {
	body, _ := json.Marshal(map[string]any{"data": map[string]any{"api_key": apiKey}})
	env, err := api.call(ctx, http.MethodPut, "/v2/api_auth", body, http.StatusCreated)
	if err != nil {
		return nil, fmt.Errorf("api_auth: %w", err)
	}
	token, _ := env["auth_token"].(string)
	s := &seed{numbers: newNumbers()}
	s.master, _ = dataField(env, "account_id")
	if token == "" || s.master == "" {
		return nil, errors.New("api_auth: no auth_token or data.account_id in the answer")
	}
	api.token = token

	env, err = api.call(ctx, http.MethodPut, "/v2/accounts/"+s.master, []byte(`{"data":{"name":"load"}}`), http.StatusCreated)
	if err != nil {
		return nil, fmt.Errorf("create sub-account: %w", err)
	}
	if s.account, _ = dataField(env, "id"); s.account == "" {
		return nil, errors.New("create sub-account: no data.id")
	}

	if s.ids, err = createRequests(ctx, api, s.account, s.numbers, n, "load"); err != nil {
		return nil, err
	}
	s.completed = min(n, max(60, n/2))
	// Completing walks submitted → pending → completed as the master, the
	// port authority of the sub-account.
	err = parallel(ctx, s.completed, func(i int) error {
		for _, st := range []string{"submitted?accept_charges=true", "pending", "completed"} {
			if _, err := api.call(ctx, http.MethodPatch, "/v2/accounts/"+s.account+"/port_requests/"+s.ids[i]+"/"+st, nil, http.StatusOK); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("complete: %w", err)
	}

	// The page scenario is only meaningful if the page is full.
	env, err = api.call(ctx, http.MethodGet, "/v2/accounts/"+s.account+"/port_requests/completed?page_size=50", nil, http.StatusOK)
	if err != nil {
		return nil, fmt.Errorf("completed page: %w", err)
	}
	if rows := pageRows(env); rows != 50 {
		return nil, fmt.Errorf("completed page has %d rows, want 50 (of %d completed)", rows, s.completed)
	}

	// The couch_put_doc body is a real stored document, so that the
	// baseline writes as many bytes as portreqd does.
	doc, err := c.call(ctx, api.client, http.MethodGet, "/"+url.PathEscape(prefix+"port_requests")+"/"+s.ids[len(s.ids)-1], nil, http.StatusOK)
	if err != nil {
		return nil, fmt.Errorf("read a stored request from CouchDB (is -db-prefix right?): %w", err)
	}
	delete(doc, "_id")
	delete(doc, "_rev")
	s.rawDoc, _ = json.Marshal(doc)
	return s, nil
}

// createRequests creates n unconfirmed port requests of one number each.
func createRequests(ctx context.Context, api *portreqd, account string, g *numbers, n int, name string) ([]string, error) {
	ids := make([]string, n)
	err := parallel(ctx, n, func(i int) error {
		env, err := api.call(ctx, http.MethodPut, "/v2/accounts/"+account+"/port_requests",
			requestBody(name+" "+strconv.Itoa(i), g.next()), http.StatusCreated)
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
