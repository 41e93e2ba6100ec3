package rows_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/accountcache"
	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/rows"
)

// TestListingsNeverStale checks that the decoded-document cache and the
// revisions the embedded store's indexes carry never show an old version:
// each edit of a listed request shows in the next listing and GET, with
// the cache on and off.
func TestListingsNeverStale(t *testing.T) {
	for _, cacheBytes := range []int{0, -1} {
		t.Run(fmt.Sprintf("cache=%d", cacheBytes), func(t *testing.T) {
			store := kazootest.Embedded(t)
			ctx := context.Background()
			svc := porting.NewService(porting.Config{Store: store})
			rd := rows.New(rows.Config{Store: store, Service: svc, DocCacheBytes: cacheBytes})
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
			for i := 1; i <= 3; i++ {
				want := fmt.Sprintf("v%d", i-1)
				l, err := rd.ListState(ctx, master, master.ID, porting.Unconfirmed, porting.ListOptions{})
				if err != nil {
					t.Fatal(err)
				}
				groups := written(t, l)
				if len(groups) != 1 || len(groups[0].PortRequests) != 1 {
					t.Fatalf("listing: %+v", groups)
				}
				if got := groups[0].PortRequests[0].String("name"); got != want {
					t.Fatalf("listing shows %q, want %q", got, want)
				}
				row, _, err := rd.Get(ctx, master, master.ID, r.ID)
				if err != nil || row.Fields().String("name") != want {
					t.Fatalf("GET shows %q (%v), want %q", row.Fields().String("name"), err, want)
				}
				edit := porting.Fields{}
				edit.Set("name", fmt.Sprintf("v%d", i))
				edit.Set("numbers", map[string]any{"+13125550100": map[string]any{}})
				if _, err := svc.UpdateRequest(ctx, master, master.ID, r.ID, edit); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestReadOnlyFollowsAccountWrites checks that rows show an account's
// _read_only block as it is after a rename through the service, with the
// account cache on (its blocks dropped) and off (built for every read).
func TestReadOnlyFollowsAccountWrites(t *testing.T) {
	for _, cached := range []bool{true, false} {
		t.Run(fmt.Sprintf("account cache %v", cached), func(t *testing.T) {
			store := kazootest.Embedded(t)
			ctx := context.Background()
			cfg := porting.Config{Store: store}
			if cached {
				cfg.Accounts = accountcache.New(time.Hour, time.Now)
			}
			svc := porting.NewService(cfg)
			rd := rows.New(rows.Config{Store: store, Service: svc})
			master, _, err := svc.Bootstrap(ctx, "key")
			if err != nil {
				t.Fatal(err)
			}
			data := porting.Fields{}
			data.Set("name", "r")
			data.Set("numbers", map[string]any{"+13125550100": map[string]any{}})
			r, err := svc.CreateRequest(ctx, master, master.ID, data)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"first", "second"} {
				rename := porting.Fields{}
				rename.Set("name", name)
				if _, err := svc.UpdateAccount(ctx, master, master.ID, rename); err != nil {
					t.Fatal(err)
				}
				l, err := rd.ListState(ctx, master, master.ID, porting.Unconfirmed, porting.ListOptions{})
				if err != nil {
					t.Fatal(err)
				}
				groups := written(t, l)
				if len(groups) != 1 || len(groups[0].PortRequests) != 1 {
					t.Fatalf("listing: %+v", groups)
				}
				row, _, err := rd.Get(ctx, master, master.ID, r.ID)
				if err != nil {
					t.Fatal(err)
				}
				for where, f := range map[string]porting.Fields{"listing": groups[0].PortRequests[0], "GET": row.Fields()} {
					var ro struct {
						AccountName string `json:"account_name"`
					}
					if err := json.Unmarshal(f["_read_only"], &ro); err != nil || ro.AccountName != name {
						t.Errorf("%s after renaming to %q: _read_only %s (%v)", where, name, f["_read_only"], err)
					}
				}
			}
		})
	}
}

// writtenGroup is a listing group as a client decodes it.
type writtenGroup struct {
	AccountID    string           `json:"account_id"`
	AccountName  string           `json:"account_name"`
	PortRequests []porting.Fields `json:"port_requests"`
}

// written writes l's groups and decodes them strictly, checking the row
// count WriteJSON reports.
func written(t *testing.T, l *rows.Listing) []writtenGroup {
	t.Helper()
	var buf bytes.Buffer
	n, err := l.Groups.WriteJSON(context.Background(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(&buf)
	dec.DisallowUnknownFields()
	var out []writtenGroup
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("listing is not the JSON expected: %v\n%s", err, buf.Bytes())
	}
	rowsIn := 0
	for _, g := range out {
		rowsIn += len(g.PortRequests)
	}
	if rowsIn != n {
		t.Errorf("WriteJSON reports %d rows, wrote %d", n, rowsIn)
	}
	return out
}
