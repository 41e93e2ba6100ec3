package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/accountcache"
	"github.com/portreqd/portreqd/pkg/api"
	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/rows"
	"github.com/portreqd/portreqd/pkg/tokens"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fixture is a real API over a real listener and the Kazoo store on the
// embedded engine (the same Kazoo layer runs on CouchDB: pkg/kazoo, test/e2e).
type fixture struct {
	srv      *httptest.Server
	svc      *porting.Service
	masterID string
	token    string
	tokens   *tokens.Issuer
}

func newFixture(t testing.TB, opts ...func(*api.Config)) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store := kazootest.Embedded(t)
	svc := porting.NewService(porting.Config{Store: store, Accounts: accountcache.New(2*time.Second, time.Now)})
	master, _, err := svc.Bootstrap(ctx, "golden-master-key")
	if err != nil {
		t.Fatal(err)
	}
	tokens := tokens.NewIssuer([]byte("golden-secret"), time.Hour, time.Now)
	cfg := api.Config{Service: svc, Rows: rows.New(rows.Config{Store: store, Service: svc}), Tokens: tokens, MaxUploadBytes: 1 << 20}
	for _, o := range opts {
		o(&cfg)
	}
	srv := newServer(t, api.New(cfg))
	tok, err := tokens.Issue(master.ID)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, svc: svc, masterID: master.ID, token: tok, tokens: tokens}
}

func newServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func (f *fixture) do(t *testing.T, method, path, token, body string, headers map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
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
	return resp, raw
}

var (
	hexID     = regexp.MustCompile(`\b[0-9a-f]{32}\b`)
	jwtToken  = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`)
	revision  = regexp.MustCompile(`"\d+-[0-9a-f]+"`)
	gregorian = regexp.MustCompile(`\b6\d{10}\b`)
	apiKey    = regexp.MustCompile(`\b[0-9a-f]{64}\b`)
	realm     = regexp.MustCompile(`\b[0-9a-f]{6}\.sip\.2600hz\.com\b`)
)

// normalize replaces values that differ between runs with placeholders.
func normalize(raw []byte) []byte {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return raw
	}
	pretty, _ := json.MarshalIndent(v, "", "  ")
	pretty = apiKey.ReplaceAll(pretty, []byte("{API_KEY}"))
	pretty = hexID.ReplaceAll(pretty, []byte("{ID}"))
	pretty = realm.ReplaceAll(pretty, []byte("{REALM}"))
	pretty = jwtToken.ReplaceAll(pretty, []byte("{AUTH_TOKEN}"))
	pretty = revision.ReplaceAll(pretty, []byte(`"{REVISION}"`))
	pretty = gregorian.ReplaceAll(pretty, []byte("{TIMESTAMP}"))
	return append(pretty, '\n')
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".json")
	got = normalize(got)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/api -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// TestEnvelopes pins every envelope shape with golden files, and checks
// that the HTTP status equals the envelope's error and that Content-Type is
// exactly application/json.
func TestEnvelopes(t *testing.T) {
	f := newFixture(t)
	expired := tokens.NewIssuer([]byte("golden-secret"), time.Hour, func() time.Time { return time.Now().Add(-2 * time.Hour) })
	old, _ := expired.Issue(f.masterID)
	forged, _ := tokens.NewIssuer([]byte("another-secret"), time.Hour, time.Now).Issue(f.masterID)
	other := "0123456789abcdef0123456789abcdef"

	cases := []struct {
		name, method, path, token, body string
		headers                         map[string]string
		status                          int
	}{
		{"api_auth_ok", "PUT", "/v2/api_auth", "", `{"data":{"api_key":"golden-master-key"}}`, nil, 201},
		{"api_auth_wrong_key", "PUT", "/v2/api_auth", "", `{"data":{"api_key":"nope"}}`, nil, 401},
		{"api_auth_no_key", "PUT", "/v2/api_auth", "", `{"data":{}}`, nil, 400},
		{"no_token", "GET", "/v2/accounts/" + f.masterID, "", "", nil, 401},
		{"expired_token", "GET", "/v2/accounts/" + f.masterID, old, "", nil, 401},
		{"forged_token", "GET", "/v2/accounts/" + f.masterID, forged, "", nil, 401},
		{"garbage_token", "GET", "/v2/accounts/" + f.masterID, "not-a-token", "", nil, 401},
		{"get_account", "GET", "/v2/accounts/" + f.masterID + "?_=1700000000000", f.token, "", nil, 200},
		{"unknown_account", "GET", "/v2/accounts/" + other, f.token, "", nil, 403},
		{"malformed_account_id", "GET", "/v2/accounts/x'y", f.token, "", nil, 404},
		{"invalid_json", "PUT", "/v2/accounts/" + f.masterID, f.token, `{"data":`, nil, 400},
		{"not_an_object", "PUT", "/v2/accounts/" + f.masterID, f.token, `[1,2]`, nil, 400},
		{"data_not_object", "PUT", "/v2/accounts/" + f.masterID, f.token, `{"data":"x"}`, nil, 400},
		{"name_missing", "PUT", "/v2/accounts/" + f.masterID, f.token, `{"data":{}}`, nil, 400},
		{"name_wrong_type", "PUT", "/v2/accounts/" + f.masterID, f.token, `{"data":{"name":42}}`, nil, 400},
		{"name_too_long", "PUT", "/v2/accounts/" + f.masterID, f.token, `{"data":{"name":"` + strings.Repeat("n", 129) + `"}}`, nil, 400},
		{"unknown_route", "GET", "/v2/nowhere", f.token, "", nil, 404},
		{"wrong_method", "PATCH", "/v2/accounts/" + f.masterID, f.token, "", nil, 405},
		{"not_acceptable", "GET", "/v2/accounts/" + f.masterID, f.token, "", map[string]string{"Accept": "application/xml"}, 406},
		{"children_empty", "GET", "/v2/accounts/" + f.masterID + "/children", f.token, "", nil, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, raw := f.do(t, c.method, c.path, c.token, c.body, c.headers)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, raw)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want exactly application/json", ct)
			}
			var env map[string]any
			if err := json.Unmarshal(raw, &env); err != nil {
				t.Fatalf("body is not JSON: %s", raw)
			}
			if resp.StatusCode >= 400 && env["error"] != itoa(resp.StatusCode) {
				t.Errorf("error %v does not equal the HTTP status %d", env["error"], resp.StatusCode)
			}
			if rid := resp.Header.Get("X-Request-ID"); rid == "" || rid != env["request_id"] {
				t.Errorf("X-Request-ID %q, envelope request_id %v", rid, env["request_id"])
			}
			golden(t, c.name, raw)
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestRequestIDEcho checks X-Request-ID is echoed, and replaced when unsafe.
func TestRequestIDEcho(t *testing.T) {
	f := newFixture(t)
	resp, raw := f.do(t, "GET", "/v2/accounts/"+f.masterID, f.token, "", map[string]string{"X-Request-ID": "abc-123"})
	if resp.Header.Get("X-Request-ID") != "abc-123" || !bytes.Contains(raw, []byte(`"request_id":"abc-123"`)) {
		t.Errorf("request id not echoed: %s", raw)
	}
	resp, _ = f.do(t, "GET", "/v2/accounts/"+f.masterID, f.token, "", map[string]string{"X-Request-ID": "bad id\"<script>"})
	if got := resp.Header.Get("X-Request-ID"); !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(got) {
		t.Errorf("unsafe request id echoed: %q", got)
	}
}

// TestCORSPreflight checks Monster UI's preflight passes.
func TestCORSPreflight(t *testing.T) {
	f := newFixture(t)
	resp, _ := f.do(t, "OPTIONS", "/v2/accounts/"+f.masterID+"/port_requests", "", "", map[string]string{
		"Origin": "https://monster.example.com", "Access-Control-Request-Method": "PATCH",
		"Access-Control-Request-Headers": "x-auth-token, content-type, x-kazoo-cluster-id"})
	if resp.StatusCode != 200 {
		t.Fatalf("preflight status %d", resp.StatusCode)
	}
	allowed := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
	for _, h := range []string{"x-auth-token", "content-type", "x-kazoo-cluster-id"} {
		if !strings.Contains(allowed, h) {
			t.Errorf("preflight does not allow %s: %q", h, allowed)
		}
	}
	if !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "PATCH") || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("preflight headers: %v", resp.Header)
	}
}

// TestOversizeBody checks a JSON body above the limit is refused with 413
// and creates nothing.
func TestOversizeBody(t *testing.T) {
	f := newFixture(t)
	big := `{"data":{"name":"x","pad":"` + strings.Repeat("a", 6<<20) + `"}}`
	resp, raw := f.do(t, "PUT", "/v2/accounts/"+f.masterID, f.token, big, nil)
	if resp.StatusCode != 413 {
		t.Fatalf("status %d: %.200s", resp.StatusCode, raw)
	}
	_, raw = f.do(t, "GET", "/v2/accounts/"+f.masterID+"/children", f.token, "", nil)
	if !bytes.Contains(raw, []byte(`"data":[]`)) {
		t.Errorf("an account was created: %s", raw)
	}
}

// TestHealth checks /healthz answers ok while the store answers.
func TestHealth(t *testing.T) {
	f := newFixture(t)
	resp, raw := f.do(t, "GET", "/healthz", "", "", nil)
	if resp.StatusCode != 200 || !bytes.Contains(raw, []byte(`"status":"ok"`)) {
		t.Fatalf("healthz: %d %s", resp.StatusCode, raw)
	}
}
