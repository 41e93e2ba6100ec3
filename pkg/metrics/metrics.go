// Package metrics is portreqd's Prometheus exposition: requests by route,
// store round trips, cache hit rates, claims and the delivery outbox,
// served at /metrics. It is the only package that imports the Prometheus
// client, so that the rest of portreqd reports through small interfaces
// and counters of its own (api.Observer, engine.Engine, Stats methods) and
// does not depend on a metrics library.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Path is where Mount serves the metrics.
const Path = "/metrics"

// namespace starts every metric's name.
const namespace = "portreqd"

// latencyBuckets (seconds) reach below a millisecond, where the embedded
// engine answers, and up to the timeouts of a slow CouchDB.
func latencyBuckets() []float64 {
	return []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
}

// Metrics holds portreqd's collectors in a registry of its own (not the
// client's global default, so that tests and several instances in one
// process never share counters).
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec

	storeCalls    *prometheus.CounterVec
	storeDuration *prometheus.HistogramVec
}

// New returns Metrics with the HTTP and store collectors, and the Go
// runtime and process collectors, registered.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests answered, by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Time from a request's first byte to its answer, by route template and method.",
			Buckets: latencyBuckets(),
		}, []string{"route", "method"}),
		storeCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "store", Name: "calls_total",
			Help: "Calls to the document engine (CouchDB or embedded), by operation and outcome (ok, not_found, conflict, error).",
		}, []string{"op", "outcome"}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "store", Name: "call_duration_seconds",
			Help:    "Duration of calls to the document engine, by operation (continuous changes feeds excluded).",
			Buckets: latencyBuckets(),
		}, []string{"op"}),
	}
	m.reg.MustRegister(m.httpRequests, m.httpDuration, m.storeCalls, m.storeDuration,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in Prometheus' exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Mount serves Handler at Path and everything else with next, so that
// /metrics shares the API's listener. It needs no authentication: it
// holds no tenant's data (no account or request id is ever a label).
func (m *Metrics) Mount(next http.Handler) http.Handler {
	h := m.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == Path && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}
