package couchstore

import (
	"context"
	"errors"
	"net/http"

	kivik "github.com/go-kivik/kivik/v4"

	"github.com/portreqd/portreqd/pkg/porting"
)

// storeErr maps an error from kivik to a domain error, in one place so that
// every call answers the API alike. id names the document the call was
// about; "" when the call addressed a database or a view, where a 404 means
// the database is not set up, which is the operator's problem, not the
// client's.
//
// 401 and 403 also become KindUnavailable: they mean portreqd's own
// credentials are wrong, and the client must never see that as its own 401.
func storeErr(err error, id string) error {
	if err == nil {
		return nil
	}
	var domain *porting.Error
	if errors.As(err, &domain) {
		return err // decided already (settle)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return porting.Wrap(porting.KindUnavailable, "datastore unavailable", err)
	}
	var sc interface{ HTTPStatus() int }
	if !errors.As(err, &sc) {
		return porting.Wrap(porting.KindInternal, "datastore error", err)
	}
	switch status := kivik.HTTPStatus(err); {
	case status == http.StatusNotFound && id != "":
		nf := porting.NotFound(id)
		nf.Err = err
		return nf
	case status == http.StatusConflict, status == http.StatusPreconditionFailed:
		return porting.Wrap(porting.KindConflict, "datastore conflict", err)
	case status == http.StatusBadRequest:
		return porting.Wrap(porting.KindInternal, "datastore rejected the request", err)
	default: // 401, 403, 404 of a database, 5xx, network errors
		return porting.Wrap(porting.KindUnavailable, "datastore unavailable", err)
	}
}
