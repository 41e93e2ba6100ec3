package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/portreqd/portreqd/pkg/api"
)

// apiClient is the client of every call the suite makes to portreqd
// (set in TestMain): it checks each answer against the OpenAPI document
// the server publishes, and fails the test that made the call on a
// mismatch. A request must carry its test (withTest).
var apiClient *http.Client

// newAPIClient loads the OpenAPI document and returns a client checking
// answers against it.
func newAPIClient() (*http.Client, error) {
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	if err != nil {
		return nil, fmt.Errorf("load openapi.json: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route openapi.json: %w", err)
	}
	errSchema := doc.Components.Schemas["ErrorEnvelope"]
	if errSchema == nil || errSchema.Value == nil {
		return nil, errors.New("openapi.json: no ErrorEnvelope schema")
	}
	return &http.Client{Transport: &checkingTransport{base: http.DefaultTransport, router: router, errSchema: errSchema.Value}}, nil
}

type testKey struct{}

// withTest makes t the test that answers checked under ctx fail.
func withTest(ctx context.Context, t testing.TB) context.Context {
	return context.WithValue(ctx, testKey{}, t)
}

// checkingTransport checks each answer that arrives whole against the
// document: an answer of a documented route and method against that
// operation (status, headers, body), any other (a wrong method, an
// unknown path) against the error envelope, as portreqd answers them.
type checkingTransport struct {
	base      http.RoundTripper
	router    routers.Router
	errSchema *openapi3.Schema
}

func (c *checkingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t, ok := req.Context().Value(testKey{}).(testing.TB)
	if !ok {
		return nil, errors.New("e2e: a call to portreqd without its test (withTest)")
	}
	resp, err := c.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		// Cut off (a killed server): hand the client what came and the
		// error, and check nothing.
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(raw), errReader{err}))
		return resp, nil
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	if route, err := c.check(req, resp, raw); err != nil {
		t.Errorf("OpenAPI: %s %s answered %d, which the document does not describe: %v\nbody: %.2000s",
			req.Method, route, resp.StatusCode, err, raw)
	}
	return resp, nil
}

// check validates one answer and returns the route it was checked as.
func (c *checkingTransport) check(req *http.Request, resp *http.Response, raw []byte) (string, error) {
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		return req.URL.Path, c.checkError(req, resp, raw)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(raw)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	return route.Path, openapi3filter.ValidateResponse(req.Context(), in)
}

// checkError checks an answer to a route the document does not have: it
// must be an error in Crossbar's envelope.
func (c *checkingTransport) checkError(req *http.Request, resp *http.Response, raw []byte) error {
	if resp.StatusCode < 400 {
		return fmt.Errorf("status %d on a route the document does not have", resp.StatusCode)
	}
	if req.Method == http.MethodHead {
		return nil
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		return fmt.Errorf("error answered as %q", ct)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("error body is not JSON: %w", err)
	}
	return c.errSchema.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.MultiErrors())
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// TestOpenAPIServed checks that the document served is the one the suite
// checks answers against.
func TestOpenAPIServed(t *testing.T) {
	s := newEnv(t, storeBolt).start(t)
	r := s.do(t, http.MethodGet, "/v2/openapi.json", "", nil).expect(t, http.StatusOK)
	if !bytes.Equal(r.Raw, api.OpenAPI()) {
		t.Errorf("GET /v2/openapi.json is not the embedded document")
	}
	if v, _ := r.Body["openapi"].(string); !strings.HasPrefix(v, "3.1") {
		t.Errorf("openapi = %q, want 3.1.x", v)
	}
}

// TestDocumentedAnswers calls the routes and answers the rest of the
// suite does not reach, so that every operation of the document is
// checked against a real answer at least once: lists, timelines,
// portability checks, the agent's queue, the deliveries, and errors of
// each kind the envelope carries.
func TestDocumentedAnswers(t *testing.T) { forEachStore(t, testDocumentedAnswers) }

func testDocumentedAnswers(t *testing.T, e *env) {
	s := e.start(t)
	master, masterID := s.login(t, e.apiKey)
	tok, acct := s.customer(t, master, masterID, "OpenAPI customer")
	account := "/v2/accounts/" + acct
	base := account + "/port_requests"
	id := s.createRequest(t, tok, acct, "openapi", "+12025550199")
	comment := map[string]any{"data": map[string]any{"comments": []any{map[string]any{"content": "hello"}}}}
	s.do(t, "PUT", base+"/"+id+"/comments", tok, comment).expect(t, http.StatusOK)
	s.do(t, "PATCH", base+"/"+id+"/submitted?accept_charges=true", tok, nil).expect(t, http.StatusOK)

	for _, c := range []struct {
		method, path, token string
		body                any
		want                int
		headers             []string
	}{
		{"HEAD", "/healthz", "", nil, http.StatusOK, nil},
		{"GET", account + "/children", tok, nil, http.StatusOK, nil},
		{"GET", base + "/" + id + "/comments", tok, nil, http.StatusOK, nil},
		{"GET", base + "/" + id + "/timeline", tok, nil, http.StatusOK, nil},
		{"GET", base + "/" + id + "/attachments", tok, nil, http.StatusOK, nil},
		{"GET", base + "/last_submitted", tok, nil, http.StatusOK, nil},
		{"GET", base + "?by_types=last_submitted", tok, nil, http.StatusOK, nil},
		{"GET", base + "?by_types=submitted,pending&paginate=false", tok, nil, http.StatusOK, nil},
		{"GET", base + "?by_number=%2B12025550199", tok, nil, http.StatusOK, nil},
		{"GET", base + "?page_size=1", tok, nil, http.StatusOK, nil},
		{"GET", base + "?page_size=0", tok, nil, http.StatusBadRequest, nil},
		{"GET", base + "/unconfirmed", tok, nil, http.StatusOK, nil},
		{"GET", base + "/submitted", tok, nil, http.StatusOK, nil},
		{"GET", base + "/pending", tok, nil, http.StatusOK, nil},
		{"GET", base + "/scheduled", tok, nil, http.StatusOK, nil},
		{"GET", base + "/completed", tok, nil, http.StatusOK, nil},
		{"GET", base + "/rejected", tok, nil, http.StatusOK, nil},
		{"GET", base + "/canceled", tok, nil, http.StatusOK, nil},
		{"GET", "/v2/accounts/" + masterID + "/descendants/port_requests?by_number=%2B12025550199", master, nil, http.StatusOK, nil},
		{"GET", "/v2/port_requests", master, nil, http.StatusOK, nil},
		{"GET", "/v2/port_requests?by_types=all", master, nil, http.StatusOK, nil},
		{"GET", "/v2/port_deliveries", master, nil, http.StatusOK, nil},
		{"GET", "/v2/port_deliveries", tok, nil, http.StatusForbidden, nil},
		{"POST", base + "/lnp_lookup", tok, map[string]any{"data": map[string]any{"numbers": []string{"+12025550199"}}}, http.StatusOK, nil},
		{"POST", base + "/lnp_lookup", tok, map[string]any{"data": map[string]any{"numbers": []string{"12"}}}, http.StatusBadRequest, nil},
		{"POST", base + "/lnp_lookup", tok, map[string]any{"data": map[string]any{}}, http.StatusBadRequest, nil},
		{"GET", account + "/port_notifications/port_request", tok, nil, http.StatusOK, nil},
		{"GET", base + "/" + id, tok, nil, http.StatusNotAcceptable, []string{"Accept", "text/html"}},
		{"GET", base + "/" + id, "", nil, http.StatusUnauthorized, nil},
		{"GET", base + "/" + id, "not-a-token", nil, http.StatusUnauthorized, nil},
		{"GET", base + "/" + id + "?auth_token=" + tok, "", nil, http.StatusOK, nil},
		{"POST", base + "/" + id, tok, "{not json", http.StatusBadRequest, nil},
		{"POST", base + "/" + id, master, reqBody("openapi", "+12025550199"), http.StatusConflict, []string{"If-Match", `"1-00000000000000000000000000000000"`}},
		{"POST", base + "/" + id, master, reqBody("openapi edited", "+12025550199"), http.StatusOK, nil},
		{"PATCH", account, tok, nil, http.StatusMethodNotAllowed, nil},
		{"GET", "/v2/nowhere", "", nil, http.StatusNotFound, nil},
	} {
		s.do(t, c.method, c.path, c.token, c.body, c.headers...).expect(t, c.want)
	}
}
