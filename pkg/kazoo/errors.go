package kazoo

import (
	"context"
	"errors"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/porting"
)

// storeErr maps an engine error to a domain error, in one place so that
// every call answers the API alike. id names the document (or attachment)
// the call was about; "" when the call addressed a database or a view,
// where not found means the database is not set up, which is the
// operator's problem, not the client's.
func storeErr(err error, id string) error {
	if err == nil {
		return nil
	}
	var domain *porting.Error
	switch {
	case errors.As(err, &domain):
		return err // decided already
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return porting.Wrap(porting.KindUnavailable, "datastore unavailable", err)
	case errors.Is(err, engine.ErrNotFound) && id != "":
		nf := porting.NotFound(id)
		nf.Err = err
		return nf
	case errors.Is(err, engine.ErrConflict):
		return porting.Wrap(porting.KindConflict, "datastore conflict", err)
	case errors.Is(err, engine.ErrBadRequest):
		return porting.Wrap(porting.KindInternal, "datastore rejected the request", err)
	case errors.Is(err, engine.ErrUnauthorized):
		return porting.Wrap(porting.KindUnavailable, "datastore refused portreqd's credentials", err)
	case errors.Is(err, engine.ErrUnavailable), errors.Is(err, engine.ErrNotFound):
		return porting.Wrap(porting.KindUnavailable, "datastore unavailable", err)
	default:
		return porting.Wrap(porting.KindInternal, "datastore error", err)
	}
}

// conflict is the answer to a write that names no revision: without one
// the engine would create a missing document, a lost update.
func conflict() error { return porting.E(porting.KindConflict, "datastore conflict") }

// isNotFound reports whether err is the engine's not found.
func isNotFound(err error) bool { return errors.Is(err, engine.ErrNotFound) }

func isConflict(err error) bool { return errors.Is(err, engine.ErrConflict) }
