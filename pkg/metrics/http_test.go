package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/accountcache"
	"github.com/portreqd/portreqd/pkg/api"
	"github.com/portreqd/portreqd/pkg/engine/bolt"
	"github.com/portreqd/portreqd/pkg/kazoo"
	"github.com/portreqd/portreqd/pkg/metrics"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/rows"
	"github.com/portreqd/portreqd/pkg/tokens"
)

// stack is portreqd's API as cmd/portreqd wires it with metrics, on the
// embedded engine, over a real listener.
type stack struct {
	srv    *httptest.Server
	store  *kazoo.Store
	master *porting.Account
}

var _ api.Observer = (*metrics.Metrics)(nil)

func newStack(t *testing.T) *stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m := metrics.New()
	eng, err := bolt.Open(filepath.Join(t.TempDir(), "engine.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	store, err := kazoo.Open(ctx, m.Engine(eng), kazoo.Options{})
	if err != nil {
		_ = eng.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	accounts := accountcache.New(time.Minute, time.Now)
	svc := porting.NewService(porting.Config{Store: store, Accounts: accounts})
	master, _, err := svc.Bootstrap(ctx, "metrics-master-key")
	if err != nil {
		t.Fatal(err)
	}
	rd := rows.New(rows.Config{Store: store, Service: svc})
	for _, err := range []error{
		m.Cache("account", func() (uint64, uint64) { s := accounts.Stats(); return s.Hits, s.Misses }),
		m.Cache("document", func() (uint64, uint64) { s := rd.DocCacheStats(); return s.Hits, s.Misses }),
		m.Claims(svc.ClaimStats),
		m.Outbox(store, metrics.OutboxOptions{}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	h := api.New(api.Config{Service: svc, Rows: rd, Observer: m,
		Tokens: tokens.NewIssuer([]byte("metrics-secret"), time.Hour, time.Now)})
	srv := httptest.NewServer(m.Mount(h))
	t.Cleanup(srv.Close)
	return &stack{srv: srv, store: store, master: master}
}

// call sends one request and returns its status and body.
func (s *stack) call(t *testing.T, method, path, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-ID", "req-"+strings.ReplaceAll(t.Name(), "/", "-")+"-"+method)
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(raw)
}

// TestHTTPMetrics drives the API over a real listener (a login, reads, a
// 401, a 404, a port request submitted and read twice, deliveries in the
// outbox), scrapes /metrics and checks what each counter says, and that no
// account, request or request id appears anywhere in the scrape.
func TestHTTPMetrics(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	now := time.Now()
	if _, err := s.store.CreateDeliveries(ctx, []*porting.Delivery{
		{ID: "d-old", State: porting.DeliveryPending, Due: now.UnixMilli(), Created: now.Add(-90 * time.Second).UnixMilli(), Channel: "webhook"},
		{ID: "d-new", State: porting.DeliveryPending, Due: now.UnixMilli(), Created: now.Add(-10 * time.Second).UnixMilli(), Channel: "webhook"},
		{ID: "d-failed", State: porting.DeliveryFailed, Due: now.UnixMilli(), Created: now.Add(-time.Hour).UnixMilli(), Channel: "webhook"},
	}); err != nil {
		t.Fatal(err)
	}

	code, body := s.call(t, http.MethodPut, "/v2/api_auth", "", `{"data":{"api_key":"metrics-master-key"}}`)
	if code != http.StatusCreated {
		t.Fatalf("api_auth: %d %s", code, body)
	}
	token := between(t, body, `"auth_token":"`, `"`)
	acct := "/v2/accounts/" + s.master.ID
	steps := []struct {
		method, path, token, body string
		want                      int
	}{
		{http.MethodGet, acct, token, "", http.StatusOK},
		{http.MethodGet, acct, token, "", http.StatusOK},
		{http.MethodGet, acct, "", "", http.StatusUnauthorized},
		{http.MethodGet, "/v2/no_such_route/" + s.master.ID, token, "", http.StatusNotFound},
		{http.MethodPut, acct + "/port_requests", token, `{"data":{"name":"metrics","numbers":{"+13125550170":{},"+13125550171":{}}}}`, http.StatusCreated},
	}
	for _, st := range steps {
		if code, body = s.call(t, st.method, st.path, st.token, st.body); code != st.want {
			t.Fatalf("%s %s: %d %s, want %d", st.method, st.path, code, body, st.want)
		}
	}
	reqID := between(t, body, `"id":"`, `"`)
	one := acct + "/port_requests/" + reqID
	for _, st := range []struct{ method, path, body string }{
		{http.MethodPatch, one + "/submitted", `{"data":{}}`},
		{http.MethodGet, one, ""},
		{http.MethodGet, one, ""},
	} {
		if code, body = s.call(t, st.method, st.path, token, st.body); code != http.StatusOK {
			t.Fatalf("%s %s: %d %s", st.method, st.path, code, body)
		}
	}

	sc := scrape(t, s.srv.URL+metrics.Path)
	const (
		reqs = "portreqd_http_requests_total"
		dur  = "portreqd_http_request_duration_seconds"
	)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{reqs, map[string]string{"route": "/v2/api_auth", "method": "PUT", "code": "201"}, 1},
		{reqs, map[string]string{"route": "/v2/accounts/{account_id}", "method": "GET", "code": "200"}, 2},
		{reqs, map[string]string{"route": "/v2/accounts/{account_id}", "method": "GET", "code": "401"}, 1},
		{reqs, map[string]string{"route": "unmatched", "method": "GET", "code": "404"}, 1},
		{reqs, map[string]string{"route": "/v2/accounts/{account_id}/port_requests", "method": "PUT", "code": "201"}, 1},
		{reqs, map[string]string{"route": "/v2/accounts/{account_id}/port_requests/{request_id}/{state:submitted|pending|scheduled|completed|rejected|canceled}", "method": "PATCH", "code": "200"}, 1},
		{reqs, map[string]string{"route": "/v2/accounts/{account_id}/port_requests/{request_id}", "method": "GET", "code": "200"}, 2},
		{reqs, nil, 9}, // every request above, /metrics itself not among them
		{dur, map[string]string{"route": "/v2/accounts/{account_id}", "method": "GET"}, 3},
		{dur, nil, 9},
		{"portreqd_claims_created_total", nil, 2},
		{"portreqd_claims_released_total", nil, 0},
		{"portreqd_claims_lost_total", nil, 0},
		{"portreqd_cache_hits_total", map[string]string{"cache": "document"}, 1},
		{"portreqd_outbox_up", nil, 1},
		{"portreqd_outbox_pending", nil, 2},
		{"portreqd_outbox_failed", nil, 1},
	} {
		got, ok := sc.value(c.name, c.labels)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	routes := map[string]bool{}
	for _, r := range sc.labelValues(reqs, "route") {
		routes[r] = true
	}
	wantRoutes := map[string]bool{
		"/v2/api_auth": true, "/v2/accounts/{account_id}": true, "unmatched": true,
		"/v2/accounts/{account_id}/port_requests": true, "/v2/accounts/{account_id}/port_requests/{request_id}": true,
		"/v2/accounts/{account_id}/port_requests/{request_id}/{state:submitted|pending|scheduled|completed|rejected|canceled}": true,
	}
	if diff := cmp.Diff(wantRoutes, routes); diff != "" {
		t.Errorf("route label values (-want +got):\n%s", diff)
	}
	// Counted, with values that depend on how many reads a request makes
	// (account misses may be none: the service caches what it writes).
	for _, c := range []struct {
		name   string
		labels map[string]string
	}{
		{"portreqd_cache_hits_total", map[string]string{"cache": "account"}},
		{"portreqd_cache_misses_total", map[string]string{"cache": "document"}},
		{"portreqd_store_calls_total", map[string]string{"op": "put", "outcome": "ok"}},
		{"portreqd_store_calls_total", map[string]string{"op": "query", "outcome": "ok"}},
		{"portreqd_store_call_duration_seconds", map[string]string{"op": "bulk"}},
		{"go_goroutines", nil},
		{"process_cpu_seconds_total", nil},
	} {
		if got, ok := sc.value(c.name, c.labels); !ok || got <= 0 {
			t.Errorf("%s%v = %v (found %v), want > 0", c.name, c.labels, got, ok)
		}
	}
	if got, _ := sc.value("portreqd_outbox_oldest_pending_seconds", nil); got < 90 || got > 3600 {
		t.Errorf("portreqd_outbox_oldest_pending_seconds = %v, want the oldest pending's age (90 s and more)", got)
	}
	for _, secret := range []string{s.master.ID, reqID, "req-", "+1312555017", "metrics-master-key", token} {
		if strings.Contains(sc.text, secret) {
			t.Errorf("the scrape shows %q", secret)
		}
	}
}

// between is the text of s between the first before and the next after.
func between(t *testing.T, s, before, after string) string {
	t.Helper()
	_, rest, ok := strings.Cut(s, before)
	if !ok {
		t.Fatalf("no %q in %s", before, s)
	}
	v, _, ok := strings.Cut(rest, after)
	if !ok {
		t.Fatalf("no %q after %q in %s", after, before, s)
	}
	return v
}
