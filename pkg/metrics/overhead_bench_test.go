package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/api"
	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/bolt"
	"github.com/portreqd/portreqd/pkg/kazoo"
	"github.com/portreqd/portreqd/pkg/metrics"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/rows"
	"github.com/portreqd/portreqd/pkg/tokens"
)

// BenchmarkMetricsOverhead measures what --metrics costs the most frequent
// call, one port request's GET, on the embedded store (where the cost
// shows most: no network round trip hides it): "plain" serves it without
// metrics, "metered" with the request observer and the engine wrapper as
// portreqd runs them. Compare the two in one run:
//
//	go test -run '^$' -bench MetricsOverhead -count 5 ./pkg/metrics
func BenchmarkMetricsOverhead(b *testing.B) {
	for _, metered := range []bool{false, true} {
		name := "plain"
		if metered {
			name = "metered"
		}
		b.Run(name, func(b *testing.B) {
			eng, err := bolt.Open(filepath.Join(b.TempDir(), "engine.db"), bolt.Options{NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			var e engine.Engine = eng
			var observer api.Observer
			if metered {
				m := metrics.New()
				e, observer = m.Engine(eng), m
			}
			ctx := context.Background()
			store, err := kazoo.Open(ctx, e, kazoo.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = store.Close() })
			svc := porting.NewService(porting.Config{Store: store})
			master, _, err := svc.Bootstrap(ctx, "bench-key")
			if err != nil {
				b.Fatal(err)
			}
			data := porting.Fields{}
			data.Set("name", "bench")
			data.Set("numbers", map[string]any{"+13125550100": map[string]any{}})
			r, err := svc.CreateRequest(ctx, master, master.ID, data)
			if err != nil {
				b.Fatal(err)
			}
			issuer := tokens.NewIssuer([]byte("bench-secret-0123456789abcdef"), time.Hour, time.Now)
			tok, _ := issuer.Issue(master.ID)
			srv := httptest.NewServer(api.New(api.Config{Service: svc, Rows: rows.New(rows.Config{Store: store, Service: svc}),
				Tokens: issuer, MaxUploadBytes: 1 << 20, Observer: observer}))
			b.Cleanup(srv.Close)
			url := srv.URL + "/v2/accounts/" + master.ID + "/port_requests/" + r.ID
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				req, _ := http.NewRequest("GET", url, nil)
				req.Header.Set("X-Auth-Token", tok)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}
