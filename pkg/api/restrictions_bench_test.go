package api_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/api"
	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/rows"
	"github.com/portreqd/portreqd/pkg/tokens"
)

// BenchmarkTokenRestrictions measures what Kazoo's token restrictions
// cost a customer's GET of one port request on the embedded store:
// "none" with no restrictions configured (every deployment pays this
// look-up), "allowing" with an account document whose rules allow the
// call and are matched on every call. Compare the two in one run:
//
//	go test -run '^$' -bench TokenRestrictions -count 6 ./pkg/api
func BenchmarkTokenRestrictions(b *testing.B) {
	for _, restricted := range []bool{false, true} {
		name := "none"
		if restricted {
			name = "allowing"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			store := kazootest.Embedded(b)
			svc := porting.NewService(porting.Config{Store: store})
			master, _, err := svc.Bootstrap(ctx, "bench-key")
			if err != nil {
				b.Fatal(err)
			}
			acct := porting.Fields{}
			acct.Set("name", "Customer")
			cust, err := svc.CreateAccount(ctx, master, master.ID, acct)
			if err != nil {
				b.Fatal(err)
			}
			data := porting.Fields{}
			data.Set("name", "bench")
			data.Set("numbers", map[string]any{"+13125550100": map[string]any{}})
			r, err := svc.CreateRequest(ctx, master, cust.ID, data)
			if err != nil {
				b.Fatal(err)
			}
			if restricted {
				body, _ := json.Marshal(map[string]any{"restrictions": map[string]any{"_": map[string]any{"_": map[string]any{
					"users":         []any{map[string]any{"rules": map[string]any{"#": []any{"GET"}}}},
					"port_requests": []any{map[string]any{"allowed_accounts": []any{"{AUTH_ACCOUNT_ID}"}, "rules": map[string]any{"*/submitted": []any{"PATCH"}, "*": []any{"GET", "POST"}, "#": []any{"GET"}}}},
				}}}})
				if err := store.RawPut(ctx, porting.AccountDB(cust.ID), &porting.RawDoc{ID: "token_restrictions", Body: body}, nil); err != nil {
					b.Fatal(err)
				}
			}
			issuer := tokens.NewIssuer([]byte("bench-secret-0123456789abcdef"), time.Hour, time.Now)
			tok, _ := issuer.Issue(cust.ID)
			srv := newServer(b, api.New(api.Config{Service: svc, Rows: rows.New(rows.Config{Store: store, Service: svc}),
				Tokens: issuer, MaxUploadBytes: 1 << 20}))
			url := srv.URL + "/v2/accounts/" + cust.ID + "/port_requests/" + r.ID
			benchGET(b, url, tok)
		})
	}
}
