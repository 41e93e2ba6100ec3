package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/kazoo"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/tokens"
)

// Kazoo's token restrictions hold on portreqd's routes: an account's
// token_restrictions document, keyed by login method and priv_level,
// limits its users' tokens (portreqd's and Kazoo's) to what it lists,
// and system_config's crossbar.token_restrictions does the same where an
// account has none; a refusal is crossbar's 403; the super-duper admin
// is never restricted; without restrictions nothing changes.
func TestTokenRestrictions(t *testing.T) {
	onBothStores(t, "restrict_", testTokenRestrictions)
}

func testTokenRestrictions(t *testing.T, store *kazoo.Store) {
	ctx := context.Background()
	f := newSessionsFixture(t, store)
	carolTok := f.login(t) // priv_level user
	admin := porting.Fields{}
	for k, v := range map[string]string{"first_name": "Dave", "last_name": "Admin", "username": "dave", "password": "admin horse", "priv_level": "admin"} {
		admin.Set(k, v)
	}
	if _, err := f.svc.CreateUser(ctx, f.master, f.customer.ID, admin); err != nil {
		t.Fatal(err)
	}
	st, env := f.call(t, "PUT", "/v2/user_auth", "", map[string]any{"credentials": md5hex("dave:admin horse"), "account_name": "Customer Co"})
	if st != http.StatusCreated {
		t.Fatalf("dave's login: %d %v", st, env)
	}
	daveTok := env["auth_token"].(string)
	const secret = "5ec4e75ec4e75ec4e75ec4e75ec4e75e"
	kazooUser := f.customer.ID[:28] + "0000"
	f.site.Identity(f.customer.ID, kazooUser, "user", secret) // no priv_level
	kazooTok := f.site.Mint("RS256", f.site.UserClaims(f.customer.ID, kazooUser, secret, f.clock().Add(24*time.Hour)))
	branch := porting.Fields{}
	branch.Set("name", "Branch")
	child, err := f.svc.CreateAccount(ctx, f.master, f.customer.ID, branch)
	if err != nil {
		t.Fatal(err)
	}
	issuer := tokens.NewIssuer([]byte("sessions-test-secret-0123456789abcdef"), 24*time.Hour, f.clock)
	masterTok, err := issuer.Issue(f.master.ID)
	if err != nil {
		t.Fatal(err)
	}
	keyTok, err := issuer.Issue(f.customer.ID)
	if err != nil {
		t.Fatal(err)
	}

	put := func(db, id string, doc map[string]any) {
		t.Helper()
		body, _ := json.Marshal(doc)
		if err := store.RawPut(ctx, db, &porting.RawDoc{ID: id, Body: body}, nil); err != nil {
			t.Fatal(err)
		}
		f.advance(31 * time.Second) // past the restrictions' recheck
	}
	requests := "/v2/accounts/" + f.customer.ID + "/port_requests"
	n := 0
	create := func(token string) int {
		t.Helper()
		n++
		st, _ := f.call(t, "PUT", requests, token, map[string]any{"name": "restricted", "numbers": map[string]any{
			"+1312555" + string(rune('0'+n/10)) + string(rune('0'+n%10)) + "00": map[string]any{}}})
		return st
	}
	type call struct {
		name, token, method, path string
		want                      int
	}
	expect := func(when string, calls []call) {
		t.Helper()
		for _, c := range calls {
			var got int
			var env map[string]any
			if c.method == "PUT" {
				got = create(c.token)
			} else {
				got, env = f.call(t, c.method, c.path, c.token, nil)
			}
			if got != c.want {
				t.Errorf("%s: %s: %d, want %d", when, c.name, got, c.want)
			}
			if got == http.StatusForbidden && env != nil {
				data, _ := env["data"].(map[string]any)
				if data["cause"] != "access denied by token restrictions" || env["message"] != "forbidden" {
					t.Errorf("%s: %s: refused with %v", when, c.name, env)
				}
			}
		}
	}

	expect("no restrictions", []call{
		{"carol creates", carolTok, "PUT", "", http.StatusCreated},
		{"Kazoo's user creates", kazooTok, "PUT", "", http.StatusCreated},
		{"the API key creates", keyTok, "PUT", "", http.StatusCreated},
	})

	// The account's document: users read port requests only; admins do
	// anything; users without a priv_level (Kazoo's here) read and write
	// port requests but nothing else.
	put(porting.AccountDB(f.customer.ID), "token_restrictions", map[string]any{"pvt_type": "token_restrictions",
		"restrictions": map[string]any{"cb_user_auth": map[string]any{
			"user":  map[string]any{"port_requests": []any{map[string]any{"rules": map[string]any{"#": []any{"GET"}}}}},
			"admin": map[string]any{"_": []any{map[string]any{"rules": map[string]any{"#": []any{"_"}}}}},
			"_":     map[string]any{"port_requests": []any{map[string]any{"rules": map[string]any{"#": []any{"_"}}}}},
		}}})
	expect("the account's restrictions", []call{
		{"carol lists", carolTok, "GET", requests, http.StatusOK},
		{"carol creates", carolTok, "PUT", "", http.StatusForbidden},
		{"carol reads the account", carolTok, "GET", "/v2/accounts/" + f.customer.ID, http.StatusForbidden},
		{"dave creates", daveTok, "PUT", "", http.StatusCreated},
		{"dave reads the account", daveTok, "GET", "/v2/accounts/" + f.customer.ID, http.StatusOK},
		{"Kazoo's user creates", kazooTok, "PUT", "", http.StatusCreated},
		{"Kazoo's user reads the account", kazooTok, "GET", "/v2/accounts/" + f.customer.ID, http.StatusForbidden},
		{"the API key creates (no cb_api_auth restrictions)", keyTok, "PUT", "", http.StatusCreated},
	})

	// The system's: API keys read their own account's port requests only.
	put("system_config", "crossbar.token_restrictions", map[string]any{"default": map[string]any{
		"cb_api_auth": map[string]any{"_": map[string]any{"port_requests": []any{map[string]any{
			"allowed_accounts": []any{"{AUTH_ACCOUNT_ID}"}, "rules": map[string]any{"#": []any{"GET"}}}}}}}})
	expect("the system's restrictions", []call{
		{"the API key lists its account's", keyTok, "GET", requests, http.StatusOK},
		{"the API key creates", keyTok, "PUT", "", http.StatusForbidden},
		{"the API key lists a descendant's", keyTok, "GET", "/v2/accounts/" + child.ID + "/port_requests", http.StatusForbidden},
		{"the master (super-duper admin) creates", masterTok, "PUT", "", http.StatusCreated},
		{"carol still lists (the account's document stands)", carolTok, "GET", requests, http.StatusOK},
	})

	put(porting.AccountDB(f.customer.ID), "token_restrictions", map[string]any{"pvt_type": "token_restrictions", "restrictions": map[string]any{}})
	put("system_config", "crossbar.token_restrictions", map[string]any{"default": map[string]any{}})
	expect("restrictions removed", []call{
		{"carol creates", carolTok, "PUT", "", http.StatusCreated},
		{"the API key creates", keyTok, "PUT", "", http.StatusCreated},
	})
}
