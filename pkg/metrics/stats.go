package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portreqd/portreqd/pkg/porting"
)

// Cache exports the hit and miss counts of the cache named name
// (portreqd_cache_hits_total and portreqd_cache_misses_total, label
// cache): stats is read at each scrape, so the cache itself only keeps
// atomic counters (accountcache.Cache.Stats, rows.Reader.DocCacheStats).
func (m *Metrics) Cache(name string, stats func() (hits, misses uint64)) error {
	labels := prometheus.Labels{"cache": name}
	hits := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "cache", Name: "hits_total", ConstLabels: labels,
		Help: "Reads a cache answered (account: accounts; document: decoded port requests).",
	}, func() float64 { h, _ := stats(); return float64(h) })
	misses := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "cache", Name: "misses_total", ConstLabels: labels,
		Help: "Reads a cache could not answer: the store was read, or the document decoded.",
	}, func() float64 { _, mi := stats(); return float64(mi) })
	return register(m.reg, hits, misses)
}

// Claims exports the counts of porting.Service.ClaimStats, read at each
// scrape: portreqd_claims_created_total, portreqd_claims_released_total,
// portreqd_claims_lost_total.
func (m *Metrics) Claims(stats func() porting.ClaimStats) error {
	counter := func(name, help string, pick func(porting.ClaimStats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "claims", Name: name, Help: help,
		}, func() float64 { return float64(pick(stats())) })
	}
	return register(m.reg,
		counter("created_total", "Number claims written (one per number) when requests took their numbers.",
			func(s porting.ClaimStats) uint64 { return s.Claimed }),
		counter("released_total", "Number claims deleted when requests let their numbers go.",
			func(s porting.ClaimStats) uint64 { return s.Released }),
		counter("lost_total", "Numbers whose claim another request won: a race between writers, or across sites.",
			func(s porting.ClaimStats) uint64 { return s.Lost }),
	)
}

// register registers every collector, stopping at the first error (a name
// registered twice).
func register(reg *prometheus.Registry, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
