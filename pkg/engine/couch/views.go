package couch

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-kivik/kivik/v4/couchdb/chttp"

	"github.com/portreqd/portreqd/pkg/engine"
)

// Query reads a view (rows.go). Map rows come with reduce=false, so that a
// view with a reduce function lists rows unless q.Reduce asks otherwise.
// An empty (non-nil) Keys asks for no row: nothing is sent.
func (e *Engine) Query(ctx context.Context, db, design, view string, q engine.Query, fn func(engine.Row) error) error {
	if q.Keys != nil && len(q.Keys) == 0 {
		return nil
	}
	if db == "" {
		return fmt.Errorf("%w: database name required", engine.ErrBadRequest)
	}
	if keyQuery(q) {
		// One key: it may go out with others (revcheck.go).
		return e.keyedQuery(ctx, viewPath(db, design, view), q, fn)
	}
	return e.readRows(ctx, viewPath(db, design, view), q, true, fn)
}

// viewPath is /db/_design/<design>/_view/<view>, escaped as kivik escaped
// it: a "_design/" or "_view/" prefix given with the names is dropped, the
// database name is path-escaped (its "+" made %2B by plusEscaper), the
// names escaped as document ids.
func viewPath(db, design, view string) string {
	design = strings.TrimPrefix(design, "_design/")
	view = strings.TrimPrefix(view, "_view/")
	return "/" + url.PathEscape(db) + "/_design/" + chttp.EncodeDocID(design) + "/_view/" + chttp.EncodeDocID(view)
}
