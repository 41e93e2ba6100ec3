package couch

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
)

// plusEscaper sends every "+" of a request path as %2B. CouchDB decodes a
// literal "+" in a path to a space (COUCHDB-883: it applies query-string
// rules to the path), so kivik's url.PathEscape of "numbers/+1202", which
// leaves the "+" alone, reaches CouchDB as the illegal name "numbers/ 1202".
// A literal "+" never means anything else to CouchDB, so rewriting all of
// them covers database names, ids and attachment names on every path.
// pouchdb-server decodes %2B too. It also notes each answer's status for
// writes that ask (writeStatus).
type plusEscaper struct{ next http.RoundTripper }

func (p plusEscaper) RoundTrip(req *http.Request) (*http.Response, error) {
	if escaped := req.URL.EscapedPath(); strings.Contains(escaped, "+") {
		r := req.Clone(req.Context())
		u := *req.URL
		u.RawPath = strings.ReplaceAll(escaped, "+", "%2B")
		r.URL = &u
		req = r
	}
	resp, err := p.next.RoundTrip(req)
	if resp != nil {
		if ws, ok := req.Context().Value(writeStatusKey{}).(*writeStatus); ok {
			ws.code.Store(int32(resp.StatusCode))
		}
	}
	return resp, err
}

// writeStatus carries, in a request's context, the HTTP status of a write:
// kivik returns the new revision, not whether it was 201 or 202.
type writeStatus struct{ code atomic.Int32 }

type writeStatusKey struct{}

func withWriteStatus(ctx context.Context) (context.Context, *writeStatus) {
	ws := &writeStatus{}
	return context.WithValue(ctx, writeStatusKey{}, ws), ws
}

func (w *writeStatus) accepted() bool { return w.code.Load() == http.StatusAccepted }
