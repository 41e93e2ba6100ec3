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
