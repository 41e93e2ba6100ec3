package porting

import (
	"context"
	"errors"
	"fmt"
)

type revisionKey struct{}

// WithRevision makes the request reads and writes of ctx apply only to a
// port request at revision rev (HTTP If-Match, or the revision a client
// echoes): a client editing what it read cannot overwrite a change it
// never saw.
func WithRevision(ctx context.Context, rev string) context.Context {
	return context.WithValue(ctx, revisionKey{}, rev)
}

// errStale marks a refused precondition: retrying cannot help.
var errStale = errors.New("stale revision")

// checkRevision refuses r when ctx expects another revision of it.
func checkRevision(ctx context.Context, r *Request) error {
	want, _ := ctx.Value(revisionKey{}).(string)
	if want == "" || want == r.Rev {
		return nil
	}
	return &Error{Kind: KindConflict, Message: "conflict", Err: errStale, Data: map[string]any{
		"message": fmt.Sprintf("the port request changed: it is at revision %s, not %s; read it again", r.Rev, want)}}
}
