package api_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/portreqd/portreqd/pkg/porting"
)

// BenchmarkCompletedPage measures a 50-row completed page over HTTP against
// the real store, to profile what portreqd adds to the view query.
func BenchmarkCompletedPage(b *testing.B) {
	f := newFixture(b)
	ctx := b.Context()
	svc := f.svc
	master, err := svc.Account(ctx, f.masterID)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 60; i++ {
		data := porting.Fields{}
		data.Set("name", fmt.Sprintf("bench %d", i))
		data.Set("numbers", map[string]any{fmt.Sprintf("+1312555%04d", i): map[string]any{}})
		data.Set("bill", map[string]any{"name": "Load Test", "locality": "Chicago"})
		r, err := svc.CreateRequest(ctx, master, f.masterID, data)
		if err != nil {
			b.Fatal(err)
		}
		for _, st := range []porting.State{porting.Submitted, porting.Pending, porting.Completed} {
			if _, err := svc.Transition(ctx, master, f.masterID, r.ID, st, porting.TransitionInput{AcceptCharges: true}); err != nil {
				b.Fatal(err)
			}
		}
	}
	url := f.srv.URL + "/v2/accounts/" + f.masterID + "/port_requests/completed?page_size=50"
	benchGET(b, url, f.token)
}

// benchGET times GETs of url with token, each of which must answer 200.
func benchGET(b *testing.B, url, token string) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("X-Auth-Token", token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatal(resp.Status)
		}
	}
}
