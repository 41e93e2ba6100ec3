package couchstore

import (
	"net/http"
	"strings"
)

// plusEscaper sends every "+" of a request path as %2B. CouchDB decodes a
// literal "+" in a path to a space (COUCHDB-883: it applies query-string
// rules to the path), so kivik's url.PathEscape of "numbers/+1202", which
// leaves the "+" alone, reaches CouchDB as the illegal name "numbers/ 1202".
// A literal "+" can never mean anything else to CouchDB, so rewriting all
// of them here covers database names, document ids and attachment names on
// every path, kivik's and chttp's alike. pouchdb-server decodes %2B too.
type plusEscaper struct{ next http.RoundTripper }

// It also notes each answer's status for writes that ask (writeStatus).
func (p plusEscaper) RoundTrip(req *http.Request) (*http.Response, error) {
	if escaped := req.URL.EscapedPath(); strings.Contains(escaped, "+") {
		r := req.Clone(req.Context())
		u := *req.URL
		u.RawPath = strings.ReplaceAll(escaped, "+", "%2B")
		r.URL = &u
		req = r
	}
	resp, err := p.next.RoundTrip(req)
	recordWriteStatus(req, resp)
	return resp, err
}
