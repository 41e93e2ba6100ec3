package api_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/accountcache"
	"github.com/portreqd/portreqd/pkg/api"
	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/rows"
	"github.com/portreqd/portreqd/pkg/tokens"
)

// BenchmarkCompletedPageEmbedded is BenchmarkCompletedPage on the embedded
// store, with requests shaped like the load tool's (10 numbers, a bill).
func BenchmarkCompletedPageEmbedded(b *testing.B) {
	store := kazootest.Embedded(b)
	svc := porting.NewService(porting.Config{Store: store, Accounts: accountcache.New(2*time.Second, time.Now)})
	ctx := context.Background()
	master, _, err := svc.Bootstrap(ctx, "bench-key")
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 60; i++ {
		data := porting.Fields{}
		data.Set("name", fmt.Sprintf("bench %d", i))
		nums := map[string]any{}
		for j := 0; j < 10; j++ {
			nums[fmt.Sprintf("+1312%03d%04d", i, j)] = map[string]any{}
		}
		data.Set("numbers", nums)
		data.Set("bill", map[string]any{"name": "Load Test", "locality": "Chicago", "region": "IL", "postal_code": "60601"})
		r, err := svc.CreateRequest(ctx, master, master.ID, data)
		if err != nil {
			b.Fatal(err)
		}
		for _, st := range []porting.State{porting.Submitted, porting.Pending, porting.Completed} {
			if _, err := svc.Transition(ctx, master, master.ID, r.ID, st, porting.TransitionInput{AcceptCharges: true}); err != nil {
				b.Fatal(err)
			}
		}
	}
	tokens := tokens.NewIssuer([]byte("bench"), time.Hour, time.Now)
	srv := newServer(b, api.New(api.Config{Service: svc, Rows: rows.New(rows.Config{Store: store, Service: svc}), Tokens: tokens, MaxUploadBytes: 1 << 20}))
	tok, _ := tokens.Issue(master.ID)
	url := srv.URL + "/v2/accounts/" + master.ID + "/port_requests/completed?page_size=50"
	benchGET(b, url, tok)
}
