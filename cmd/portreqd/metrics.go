package main

import (
	"net/http"

	"github.com/portreqd/portreqd/pkg/accountcache"
	"github.com/portreqd/portreqd/pkg/api"
	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/metrics"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/rows"
)

// serverMetrics wires /metrics into run. With --metrics=false it holds
// nothing and every method leaves what it is given as it is.
type serverMetrics struct {
	m *metrics.Metrics // nil: off
}

func newServerMetrics(cfg *config) *serverMetrics {
	if !cfg.metrics {
		return &serverMetrics{}
	}
	return &serverMetrics{m: metrics.New()}
}

// engine counts the store's round trips to e.
func (s *serverMetrics) engine(e engine.Engine) engine.Engine {
	if s.m == nil {
		return e
	}
	return s.m.Engine(e)
}

// watch exports the caches' hit rates, the claims and the delivery outbox.
func (s *serverMetrics) watch(accounts *accountcache.Cache, rd *rows.Reader, svc *porting.Service, st store) error {
	if s.m == nil {
		return nil
	}
	if err := s.m.Cache("account", func() (uint64, uint64) { c := accounts.Stats(); return c.Hits, c.Misses }); err != nil {
		return err
	}
	if err := s.m.Cache("document", func() (uint64, uint64) { c := rd.DocCacheStats(); return c.Hits, c.Misses }); err != nil {
		return err
	}
	if err := s.m.Claims(svc.ClaimStats); err != nil {
		return err
	}
	if ds, ok := st.(porting.DeliveryStatusStore); ok {
		return s.m.Outbox(ds, metrics.OutboxOptions{})
	}
	return nil
}

// observer is what the API tells of each request; nil when off.
func (s *serverMetrics) observer() api.Observer {
	if s.m == nil {
		return nil // an untyped nil: a nil *Metrics in the interface would be called
	}
	return s.m
}

// mount serves /metrics beside h on the main listener.
func (s *serverMetrics) mount(h http.Handler) http.Handler {
	if s.m == nil {
		return h
	}
	return s.m.Mount(h)
}
