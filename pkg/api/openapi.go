package api

import (
	_ "embed"
	"net/http"
	"slices"
	"strconv"
)

// openAPIDocument describes every route of routes(), their answers
// included; the e2e suite checks each answer it gets against it.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the OpenAPI 3.1 document served at /v2/openapi.json, so
// that tools and tests outside this package can check answers against the
// very document the server publishes.
func OpenAPI() []byte { return slices.Clone(openAPIDocument) }

// openAPI serves the document (GET /v2/openapi.json, no token: it
// describes the API, not anyone's data).
func (a *API) openAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", contentTypeJSON)
	h.Set("Content-Length", strconv.Itoa(len(openAPIDocument)))
	_, _ = w.Write(openAPIDocument)
}
