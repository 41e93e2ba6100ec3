package api_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/api"
)

// loadOpenAPI loads and validates the embedded document and returns it with
// a router over its paths.
func loadOpenAPI(t *testing.T) (*openapi3.T, routers.Router) {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("route openapi.json: %v", err)
	}
	return doc, router
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	if doc.OpenAPI != "3.1.0" || !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
}

// muxVariable is a path variable with a pattern, {name:pattern}.
var muxVariable = regexp.MustCompile(`\{([a-z_]+):([^}]+)\}`)

// words matches a pattern that lists words (state:submitted|pending).
var words = regexp.MustCompile(`^[a-z_]+(\|[a-z_]+)*$`)

// openAPIPaths turns a mux template into the OpenAPI paths it serves: a
// variable listing words is one literal path per word (OpenAPI cannot tell
// /port_requests/{state} from /port_requests/{request_id}); one with
// another pattern is a plain {variable}.
func openAPIPaths(tmpl string) []string {
	m := muxVariable.FindStringSubmatchIndex(tmpl)
	if m == nil {
		return []string{tmpl}
	}
	name, pattern := tmpl[m[2]:m[3]], tmpl[m[4]:m[5]]
	head, tail := tmpl[:m[0]], tmpl[m[1]:]
	var alts []string
	if words.MatchString(pattern) {
		alts = strings.Split(pattern, "|")
	} else {
		alts = []string{"{" + name + "}"}
	}
	var out []string
	for _, a := range alts {
		out = append(out, openAPIPaths(head+a+tail)...)
	}
	return out
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	routes, err := api.Routes()
	if err != nil {
		t.Fatal(err)
	}
	var served []string
	for _, r := range routes {
		for _, p := range openAPIPaths(r.Template) {
			served = append(served, r.Method+" "+p)
		}
	}
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	slices.Sort(served)
	slices.Sort(documented)
	if diff := cmp.Diff(served, documented); diff != "" {
		t.Errorf("routes served (-) and documented (+) differ:\n%s", diff)
	}
}

// TestOpenAPIServed fetches the document from a real listener, without a
// token, and checks that answer against the document itself.
func TestOpenAPIServed(t *testing.T) {
	f := newFixture(t)
	_, router := loadOpenAPI(t)
	resp, raw := f.do(t, http.MethodGet, "/v2/openapi.json", "", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, raw)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if !bytes.Equal(raw, api.OpenAPI()) {
		t.Errorf("served document differs from the embedded one")
	}
	req := httptest.NewRequest(http.MethodGet, "/v2/openapi.json", nil)
	if err := validateAnswer(router, req, resp.StatusCode, resp.Header, raw); err != nil {
		t.Error(err)
	}
}

// validateAnswer checks one answer against the document.
func validateAnswer(router routers.Router, req *http.Request, status int, h http.Header, body []byte) error {
	route, params, err := router.FindRoute(req)
	if err != nil {
		return err
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 h,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// TestOpenAPIRefusesWrongAnswers shows that the document is strict enough
// to catch answers that break Crossbar's envelope or a route's data.
func TestOpenAPIRefusesWrongAnswers(t *testing.T) {
	_, router := loadOpenAPI(t)
	const acct = "/v2/accounts/0123456789abcdef0123456789abcdef"
	headers := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	json := headers("Content-Type", "application/json", "X-Request-ID", "r1")
	pdf := headers("Content-Type", "application/pdf", "X-Request-ID", "r1", "Content-Disposition", `attachment; filename="x.pdf"`)
	for _, tc := range []struct {
		name, method, path string
		status             int
		header             http.Header
		body               string
		ok                 bool
	}{
		{"api key", "GET", acct + "/api_key", 200, json,
			`{"auth_token":"t","data":{"api_key":"k"},"request_id":"r1","revision":"undefined","status":"success"}`, true},
		{"no request_id", "GET", acct + "/api_key", 200, json,
			`{"auth_token":"t","data":{"api_key":"k"},"revision":"undefined","status":"success"}`, false},
		{"paging on a document", "GET", acct + "/api_key", 200, json,
			`{"auth_token":"t","data":{"api_key":"k"},"page_size":1,"request_id":"r1","revision":"undefined","status":"success"}`, false},
		{"error status on success", "GET", acct + "/api_key", 200, json,
			`{"auth_token":"t","data":{"api_key":"k"},"request_id":"r1","revision":"undefined","status":"error"}`, false},
		{"no X-Request-ID", "GET", acct + "/api_key", 200, headers("Content-Type", "application/json"),
			`{"auth_token":"t","data":{"api_key":"k"},"request_id":"r1","revision":"undefined","status":"success"}`, false},
		{"error", "GET", acct + "/api_key", 404, json,
			`{"auth_token":"","data":{},"error":"404","message":"bad identifier","request_id":"r1","status":"error"}`, true},
		{"error without message", "GET", acct + "/api_key", 404, json,
			`{"auth_token":"","data":{},"error":"404","request_id":"r1","status":"error"}`, false},
		{"error with revision", "GET", acct + "/api_key", 404, json,
			`{"auth_token":"","data":{},"error":"404","message":"m","request_id":"r1","revision":"undefined","status":"error"}`, false},
		{"listing", "GET", acct + "/port_requests/submitted", 200, json,
			`{"auth_token":"t","data":[{"account_id":"a","account_name":"A","port_requests":[{"id":"x","port_state":"submitted","sent":false,"created":1,"updated":2,"uploads":{},"whatever":1}]}],"page_size":1,"request_id":"r1","revision":"undefined","status":"success"}`, true},
		{"listing row without port_state", "GET", acct + "/port_requests/submitted", 200, json,
			`{"auth_token":"t","data":[{"account_id":"a","account_name":"A","port_requests":[{"id":"x","sent":false,"created":1,"updated":2,"uploads":{}}]}],"page_size":1,"request_id":"r1","revision":"undefined","status":"success"}`, false},
		{"LOA", "GET", acct + "/port_requests/0123456789abcdef0123456789abcdef/loa", 200, pdf, "%PDF-1.4\n", true},
		{"LOA that is not a PDF", "GET", acct + "/port_requests/0123456789abcdef0123456789abcdef/loa", 200, pdf, "hello", false},
		{"LOA as JSON", "GET", acct + "/port_requests/0123456789abcdef0123456789abcdef/loa", 200, json, `{}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			err := validateAnswer(router, req, tc.status, tc.header, []byte(tc.body))
			if (err == nil) != tc.ok {
				t.Errorf("valid = %v, want %v (%v)", err == nil, tc.ok, err)
			}
		})
	}
}
