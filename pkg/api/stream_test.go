package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/api"
	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/rows"
	"github.com/portreqd/portreqd/pkg/tokens"
)

// failingDocs is a store whose document reads for listings fail from the
// failAt-th call on (1-based; 0: never), as a store going away midway would.
type failingDocs struct {
	porting.Store
	failAt int64
	calls  atomic.Int64
}

func (f *failingDocs) RequestDocs(ctx context.Context, ids []string, fn func(string, []byte) error) error {
	if n := f.calls.Add(1); f.failAt > 0 && n >= f.failAt {
		return porting.Wrap(porting.KindUnavailable, "datastore unavailable", errors.New("store gone"))
	}
	return f.Store.RequestDocs(ctx, ids, fn)
}

// TestStreamedListing lists 500 requests unpaginated (documents read in
// batches of 100, nothing cached; ~210 KB of answer, more than the API
// holds back before it starts sending) and checks the three outcomes of a
// streamed answer: whole, with page_size the rows written; a store failure
// before the first byte, answered with the Kazoo error envelope; and one
// after the first bytes (the fifth batch), which cuts the connection so
// that the client never takes a partial listing for a whole one.
func TestStreamedListing(t *testing.T) {
	const requests = 500
	for _, tc := range []struct {
		name   string
		failAt int64
	}{{"whole", 0}, {"failsBeforeFirstByte", 1}, {"failsMidway", 5}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			store := kazootest.Embedded(t)
			svc := porting.NewService(porting.Config{Store: store})
			master, _, err := svc.Bootstrap(ctx, "stream-master-key")
			if err != nil {
				t.Fatal(err)
			}
			for i := range requests {
				data := porting.Fields{}
				data.Set("name", fmt.Sprintf("stream %d", i))
				data.Set("numbers", map[string]any{fmt.Sprintf("+1312555%04d", i): map[string]any{}})
				if _, err := svc.CreateRequest(ctx, master, master.ID, data); err != nil {
					t.Fatal(err)
				}
			}
			fs := &failingDocs{Store: store, failAt: tc.failAt}
			tokens := tokens.NewIssuer([]byte("stream-secret-0123456789abcdef0123"), time.Hour, time.Now)
			srv := newServer(t, api.New(api.Config{Service: svc, Tokens: tokens, MaxUploadBytes: 1 << 20,
				Rows: rows.New(rows.Config{Store: fs, Service: svc, DocCacheBytes: -1})}))
			tok, err := tokens.Issue(master.ID)
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest("GET", srv.URL+"/v2/accounts/"+master.ID+"/port_requests/unconfirmed", nil)
			req.Header.Set("X-Auth-Token", tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, readErr := io.ReadAll(resp.Body)
			switch tc.failAt {
			case 0:
				var env struct {
					Data []struct {
						PortRequests []map[string]any `json:"port_requests"`
					} `json:"data"`
					PageSize int    `json:"page_size"`
					Status   string `json:"status"`
				}
				if readErr != nil || resp.StatusCode != 200 || json.Unmarshal(body, &env) != nil {
					t.Fatalf("%d %v: %.300s", resp.StatusCode, readErr, body)
				}
				if len(env.Data) != 1 || len(env.Data[0].PortRequests) != requests || env.PageSize != requests || env.Status != "success" {
					t.Errorf("groups %d, page_size %d, status %q; want 1 group of %d", len(env.Data), env.PageSize, env.Status, requests)
				}
				if resp.ContentLength != -1 || len(body) < 128<<10 {
					t.Errorf("Content-Length %d, %d bytes: the listing was not streamed", resp.ContentLength, len(body))
				}
			case 1:
				if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), `"status":"error"`) {
					t.Errorf("want the 503 envelope, got %d %.300s", resp.StatusCode, body)
				}
			default:
				if readErr == nil || json.Valid(body) {
					t.Errorf("a listing cut midway read as whole: status %d, read error %v, %d bytes", resp.StatusCode, readErr, len(body))
				}
			}
		})
	}
}
