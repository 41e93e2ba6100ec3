package e2e

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
)

// TestMetrics drives the real binary on each store (a login, reads, a
// 401, a 404, a port request submitted), scrapes /metrics on the API's
// listener without credentials, and checks the counters that moved, the
// store's and runtime's collectors, and that no account, request or
// request id shows in the scrape; with --metrics=false there is no
// /metrics.
func TestMetrics(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		if e.kind == storeCouch {
			// Registered first, so run after the server has stopped.
			t.Cleanup(func() { kazootest.DropPrefix(t, e.couchURL, e.prefix) })
		}
		s := e.start(t)
		token, master := s.login(t, e.apiKey)
		acct := "/v2/accounts/" + master
		const rid = "metrics-e2e-request-id"
		s.do(t, http.MethodGet, acct, token, nil, "X-Request-ID", rid).expect(t, http.StatusOK)
		s.do(t, http.MethodGet, acct, "", nil, "X-Request-ID", rid).expect(t, http.StatusUnauthorized)
		s.do(t, http.MethodGet, "/v2/nothing/"+master, token, nil, "X-Request-ID", rid).expect(t, http.StatusNotFound)
		created := s.do(t, http.MethodPut, acct+"/port_requests", token, map[string]any{"data": map[string]any{
			"name": "metrics", "numbers": map[string]any{"+13125550190": map[string]any{}}}}).expect(t, http.StatusCreated)
		reqID, _ := created.data()["id"].(string)
		s.do(t, http.MethodPatch, acct+"/port_requests/"+reqID+"/submitted", token, map[string]any{"data": map[string]any{}}).expect(t, http.StatusOK)

		fams, text := scrapeMetrics(t, s.URL+"/metrics")
		for _, c := range []struct {
			name   string
			labels map[string]string
			want   float64 // -1: any value above zero
		}{
			{"portreqd_http_requests_total", map[string]string{"route": "/v2/api_auth", "method": "PUT", "code": "201"}, 1},
			{"portreqd_http_requests_total", map[string]string{"route": "/v2/accounts/{account_id}", "method": "GET", "code": "200"}, 1},
			{"portreqd_http_requests_total", map[string]string{"route": "/v2/accounts/{account_id}", "method": "GET", "code": "401"}, 1},
			{"portreqd_http_requests_total", map[string]string{"route": "unmatched", "method": "GET", "code": "404"}, 1},
			{"portreqd_http_requests_total", map[string]string{"route": "/v2/accounts/{account_id}/port_requests", "method": "PUT", "code": "201"}, 1},
			{"portreqd_http_request_duration_seconds", nil, 6},
			{"portreqd_claims_created_total", nil, 1},
			{"portreqd_outbox_up", nil, 1},
			{"portreqd_store_calls_total", map[string]string{"op": "get", "outcome": "ok"}, -1},
			{"portreqd_store_calls_total", map[string]string{"op": "put", "outcome": "ok"}, -1},
			{"portreqd_store_call_duration_seconds", map[string]string{"op": "query"}, -1},
			{"portreqd_cache_hits_total", map[string]string{"cache": "account"}, -1},
			{"go_goroutines", nil, -1},
			{"process_resident_memory_bytes", nil, -1},
		} {
			got, ok := sampleValue(fams, c.name, c.labels)
			if !ok || (c.want >= 0 && got != c.want) || (c.want < 0 && got <= 0) {
				t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
			}
		}
		for _, secret := range []string{master, reqID, rid, token, e.apiKey} {
			if strings.Contains(text, secret) {
				t.Errorf("the scrape shows %q", secret)
			}
		}
	})
	t.Run("off", func(t *testing.T) {
		s := newEnv(t, storeBolt).start(t, "--metrics=false")
		s.do(t, http.MethodGet, "/metrics", "", nil).expect(t, http.StatusNotFound)
	})
}

// scrapeMetrics GETs url and parses it with Prometheus' text parser.
func scrapeMetrics(t *testing.T, url string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v\n%s", url, resp.StatusCode, err, raw)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse the scrape: %v", err)
	}
	return fams, string(raw)
}

// sampleValue sums the samples of family name whose labels include labels
// (a histogram's sample count); ok is false when none matches.
func sampleValue(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (v float64, ok bool) {
next:
	for _, m := range fams[name].GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, want := range labels {
			if have[k] != want {
				continue next
			}
		}
		v += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
		ok = true
	}
	return v, ok
}
