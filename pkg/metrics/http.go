package metrics

import (
	"net/http"
	"strconv"
	"time"
)

// Observe records one answered request (api.Observer): route is the path
// template the API matched, never the raw path. A method outside HTTP's
// own is recorded as "other", so that clients cannot add label values.
func (m *Metrics) Observe(route, method string, status int, d time.Duration) {
	method = knownMethod(method)
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(d.Seconds())
}

// knownMethod is method when HTTP defines it, else "other".
func knownMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	}
	return "other"
}
