package boltstore_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/boltstore"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/porting/storetest"
)

// fixture is a store seeded with n requests: spread over 10 accounts below
// one root, modified one per second with every fourth second shared by two
// requests, all completed (the state of the long listings).
type fixture struct {
	s     *boltstore.Store
	dir   string
	root  string
	accts []string
	ids   []string
	// mid is the cursor of a page inside the first account's
	// listing, and of the root's descendant listing.
	mid, midTree porting.Cursor
}

var (
	fixturesMu sync.Mutex
	fixtures   = map[int]*fixture{}
)

// seeded returns the store with n requests, built once per process: 100,000
// requests go in through SeedRequests, 5,000 per transaction, in seconds.
func seeded(b *testing.B, n int) *fixture {
	fixturesMu.Lock()
	defer fixturesMu.Unlock()
	if f := fixtures[n]; f != nil {
		return f
	}
	dir, err := os.MkdirTemp("", "boltstore-bench")
	if err != nil {
		b.Fatal(err)
	}
	s, err := boltstore.Open(dir, boltstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	f := &fixture{s: s, dir: dir, root: newID(b)}
	for range 10 {
		f.accts = append(f.accts, newID(b))
	}
	start := time.Now()
	var batch []*porting.Request
	var own, all []porting.Cursor
	for i := range n {
		acct := f.accts[i%len(f.accts)]
		r := request(b, acct, []string{f.root}, 63900000000+int64(i-i/4))
		r.State = porting.Completed
		r.Public.Set("carrier", "Verizon")
		r.Public.Set("bill", map[string]any{"name": "Acme Corp", "locality": "Washington", "region": "DC"})
		batch = append(batch, r)
		f.ids = append(f.ids, r.ID)
		all = append(all, porting.Cursor{Modified: r.Modified, ID: r.ID})
		if acct == f.accts[0] {
			own = append(own, all[len(all)-1])
		}
		if len(batch) == 5000 || i == n-1 {
			if err := s.SeedRequests(batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	// Rows in creation order are modified ascending; a listing reads them
	// backwards, so 3/4 of the way leaves more than a page behind.
	f.mid, f.midTree = own[len(own)*3/4], all[len(all)*3/4]
	b.Logf("seeded %d requests in %s", n, time.Since(start).Round(time.Millisecond))
	fixtures[n] = f
	return f
}

// bg is the context of benchmark loops: ctx would pile up a timer and a
// cleanup per call.
var bg = context.Background()

// closeFixtures removes the seeded stores; TestMain calls it.
func closeFixtures() {
	for _, f := range fixtures {
		_ = f.s.Close()
		_ = os.RemoveAll(f.dir)
	}
}

// BenchmarkListPage reads a 50-row page from the middle of a listing with
// 1,000 and with 100,000 requests stored: an index seek and 51 steps, so
// the cost must not grow with the number stored.
func BenchmarkListPage(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		for _, kind := range []string{"account", "descendants"} {
			b.Run(fmt.Sprintf("stored=%d/%s", n, kind), func(b *testing.B) {
				f := seeded(b, n)
				q := porting.ListQuery{Account: f.accts[0], State: porting.Completed, Limit: 50, After: &f.mid}
				if kind == "descendants" {
					q = porting.ListQuery{Account: f.root, Descendants: true, State: porting.Completed, Limit: 50, After: &f.midTree}
				}
				b.ReportAllocs()
				for b.Loop() {
					p, err := storetest.ListRequests(bg, f.s, q)
					if err != nil || len(p.Requests()) != 50 || !p.More {
						b.Fatalf("page: %v, %v", p, err)
					}
				}
			})
		}
	}
}

// BenchmarkGetRequest reads one request by id among 100,000.
func BenchmarkGetRequest(b *testing.B) {
	f := seeded(b, 100_000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := f.s.GetRequest(bg, f.ids[i%len(f.ids)]); err != nil {
			b.Fatal(err)
		}
		i += 7919
	}
}

// BenchmarkCreateRequest writes requests through the public API, each
// acknowledged after its fsync, from 1 and from 16 concurrent clients:
// group commit lets the 16 share fsyncs.
func BenchmarkCreateRequest(b *testing.B) {
	for _, clients := range []int{1, 16} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			s := open(b, b.TempDir())
			acct := newID(b)
			b.SetParallelism(max(1, clients/runtime.GOMAXPROCS(0)))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := s.CreateRequest(bg, request(b, acct, nil, 63900000000)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
