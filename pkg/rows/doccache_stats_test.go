package rows_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/rows"
)

// TestDocCacheStats checks that reads through the document cache count
// as the cache answers them: a first GET decodes (a miss), the next ones
// are served by the entry (hits), an edit decodes again, and a listing of
// a cached request is a hit; with the cache off every read is a miss.
func TestDocCacheStats(t *testing.T) {
	for _, tc := range []struct {
		cacheBytes int
		want       []rows.DocCacheStats // after each step
	}{
		{0, []rows.DocCacheStats{{Misses: 1}, {Hits: 1, Misses: 1}, {Hits: 1, Misses: 2}, {Hits: 2, Misses: 2}}},
		{-1, []rows.DocCacheStats{{Misses: 1}, {Misses: 2}, {Misses: 3}, {Misses: 4}}},
	} {
		t.Run(fmt.Sprintf("cache=%d", tc.cacheBytes), func(t *testing.T) {
			store := kazootest.Embedded(t)
			ctx := context.Background()
			svc := porting.NewService(porting.Config{Store: store})
			rd := rows.New(rows.Config{Store: store, Service: svc, DocCacheBytes: tc.cacheBytes})
			master, _, err := svc.Bootstrap(ctx, "key")
			if err != nil {
				t.Fatal(err)
			}
			data := porting.Fields{}
			data.Set("name", "v0")
			data.Set("numbers", map[string]any{"+13125550100": map[string]any{}})
			r, err := svc.CreateRequest(ctx, master, master.ID, data)
			if err != nil {
				t.Fatal(err)
			}
			get := func() error { _, _, err := rd.Get(ctx, master, master.ID, r.ID); return err }
			steps := []struct {
				name string
				run  func() error
			}{
				{"first GET", get},
				{"second GET", get},
				{"GET after an edit", func() error {
					edit := porting.Fields{}
					edit.Set("name", "v1")
					edit.Set("numbers", map[string]any{"+13125550100": map[string]any{}})
					if _, err := svc.UpdateRequest(ctx, master, master.ID, r.ID, edit); err != nil {
						return err
					}
					return get()
				}},
				{"listing", func() error {
					l, err := rd.ListState(ctx, master, master.ID, porting.Unconfirmed, porting.ListOptions{})
					if err == nil {
						written(t, l) // rows are read as the listing is written
					}
					return err
				}},
			}
			for i, s := range steps {
				if err := s.run(); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				if got := rd.DocCacheStats(); got != tc.want[i] {
					t.Errorf("after %s: %+v, want %+v", s.name, got, tc.want[i])
				}
			}
		})
	}
}
