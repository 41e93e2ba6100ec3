package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/api"
	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/rows"
	"github.com/portreqd/portreqd/pkg/tokens"
	"github.com/portreqd/portreqd/pkg/tokens/kazoosite"
)

// A token Kazoo minted for a user of an account does on every port route
// what portreqd's own token of that account does; Kazoo's super-duper
// admin is the master; another tenant's Kazoo token gets what another
// tenant's portreqd token gets; a forged one is 401.
func TestKazooTokensOnPortRoutes(t *testing.T) {
	ctx := context.Background()
	store := kazootest.Embedded(t)
	svc := porting.NewService(porting.Config{Store: store})
	master, _, err := svc.Bootstrap(ctx, "kazoo-tokens-master-key")
	if err != nil {
		t.Fatal(err)
	}
	account := func(name string) *porting.Account {
		f := porting.Fields{}
		f.Set("name", name)
		a, err := svc.CreateAccount(ctx, master, master.ID, f)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	cust, other := account("Customer"), account("Other")
	own := tokens.NewIssuer([]byte("kazoo-tokens-test-secret-0123456789"), time.Hour, time.Now)
	srv := newServer(t, api.New(api.Config{Service: svc, Rows: rows.New(rows.Config{Store: store, Service: svc}), Tokens: own,
		Kazoo: &tokens.Kazoo{Store: store, Now: time.Now}, MaxUploadBytes: 1 << 20}))

	site := kazoosite.New(t, store)
	const userSecret = "5ec4e75ec4e75ec4e75ec4e75ec4e75e"
	kazooToken := func(a *porting.Account) string {
		user := fmt.Sprintf("%s0000", a.ID[:28])
		site.Identity(a.ID, user, "user", userSecret)
		return site.Mint("RS256", site.UserClaims(a.ID, user, userSecret, time.Now().Add(time.Hour)))
	}
	ownToken := func(a *porting.Account) string {
		tok, err := own.Issue(a.ID)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	call := func(method, path, token string, body []byte, contentType string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
		req.Header.Set("X-Auth-Token", token)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var env map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&env)
		return resp.StatusCode, env
	}
	jsonBody := func(v any) []byte { b, _ := json.Marshal(map[string]any{"data": v}); return b }

	// walk makes one request's life on every port route the owner may
	// call, and returns each call's status.
	type answered struct {
		What   string
		Status int
	}
	walk := func(token, number string) []answered {
		t.Helper()
		a := "/v2/accounts/" + cust.ID
		var out []answered
		note := func(what string, status int) { out = append(out, answered{what, status}) }
		st, env := call("PUT", a+"/port_requests", token, jsonBody(map[string]any{"name": "move " + number,
			"numbers": map[string]any{number: map[string]any{}}}), "application/json")
		note("create", st)
		data, _ := env["data"].(map[string]any)
		id, _ := data["id"].(string)
		r := a + "/port_requests/" + id
		for _, c := range []struct {
			what, method, path string
			body               []byte
			ctype              string
		}{
			{"account", "GET", a, nil, ""},
			{"read", "GET", r, nil, ""},
			{"list", "GET", a + "/port_requests", nil, ""},
			{"update", "POST", r, jsonBody(map[string]any{"name": "moved " + number, "numbers": map[string]any{number: map[string]any{}}}), "application/json"},
			{"attach", "PUT", r + "/attachments?filename=bill.pdf", []byte("%PDF-1.4 bill\n%%EOF\n"), "application/pdf"},
			{"attachments", "GET", r + "/attachments", nil, ""},
			{"download", "GET", r + "/attachments/bill.pdf", nil, ""},
			{"comment", "PUT", r + "/comments", jsonBody(map[string]any{"comments": []any{map[string]any{"content": "hello"}}}), "application/json"},
			{"comments", "GET", r + "/comments", nil, ""},
			{"timeline", "GET", r + "/timeline", nil, ""},
			{"loa", "GET", r + "/loa", nil, ""},
			{"submit", "PATCH", r + "/submitted", jsonBody(map[string]any{"accept_charges": true}), "application/json"},
			{"by state", "GET", a + "/port_requests/submitted", nil, ""},
			{"last submitted", "GET", a + "/port_requests/last_submitted", nil, ""},
			{"descendants", "GET", a + "/descendants/port_requests", nil, ""},
			{"phone numbers", "GET", a + "/phone_numbers", nil, ""},
		} {
			st, _ := call(c.method, c.path, token, c.body, c.ctype)
			note(c.what, st)
		}
		return out
	}
	withOwn := walk(ownToken(cust), "+13125550111")
	withKazoo := walk(kazooToken(cust), "+13125550112")
	if diff := cmp.Diff(withOwn, withKazoo); diff != "" {
		t.Errorf("a Kazoo token's calls (+) differ from portreqd's own token's (-):\n%s", diff)
	}
	for _, c := range withKazoo {
		if c.Status >= 300 {
			t.Errorf("with a Kazoo token, %s answered %d", c.What, c.Status)
		}
	}

	// Another tenant's Kazoo token: as another tenant's own token.
	for _, path := range []string{"/v2/accounts/" + cust.ID + "/port_requests", "/v2/accounts/" + cust.ID} {
		ownStatus, _ := call("GET", path, ownToken(other), nil, "")
		kazooStatus, _ := call("GET", path, kazooToken(other), nil, "")
		if kazooStatus != ownStatus || kazooStatus < 400 {
			t.Errorf("GET %s with another tenant's Kazoo token: %d, own token %d; want the same refusal", path, kazooStatus, ownStatus)
		}
	}
	// Kazoo's super-duper admin is the master.
	if st, _ := call("GET", "/v2/port_requests", kazooToken(master), nil, ""); st != http.StatusOK {
		t.Errorf("the master's Kazoo token on the authority's listing: %d, want 200", st)
	}
	// Kazoo's masquerade: the master's user logged in "as" the customer's
	// user acts as the customer, no more; the customer's user cannot ask
	// to be the master's.
	masterUser, custUser := master.ID[:28]+"0000", cust.ID[:28]+"0000"
	site.Identity(master.ID, masterUser, "user", userSecret)
	masqueraded := func(from, fromUser, asAccount, asUser string) string {
		claims := site.UserClaims(from, fromUser, userSecret, time.Now().Add(time.Hour))
		claims["as"] = map[string]any{"account_id": asAccount, "owner_id": asUser}
		return site.Mint("RS256", claims)
	}
	asCustomer := masqueraded(master.ID, masterUser, cust.ID, custUser)
	if diff := cmp.Diff(withOwn, walk(asCustomer, "+13125550113")); diff != "" {
		t.Errorf("the master's Kazoo token as the customer (+) differs from the customer's own token (-):\n%s", diff)
	}
	if st, _ := call("GET", "/v2/accounts/"+other.ID+"/port_requests", asCustomer, nil, ""); st < 400 {
		t.Errorf("the master as the customer read another tenant's requests: %d", st)
	}
	if st, _ := call("GET", "/v2/accounts/"+master.ID, masqueraded(cust.ID, custUser, master.ID, masterUser), nil, ""); st != http.StatusUnauthorized {
		t.Errorf("the customer's Kazoo token as the master: %d, want 401", st)
	}

	// Forged: a Kazoo token signed with another key.
	forger := kazoosite.Key(t)
	real := site.Key
	site.Key = forger
	forged := site.Mint("RS256", site.UserClaims(cust.ID, fmt.Sprintf("%s0000", cust.ID[:28]), userSecret, time.Now().Add(time.Hour)))
	site.Key = real
	if st, env := call("GET", "/v2/accounts/"+cust.ID+"/port_requests", forged, nil, ""); st != http.StatusUnauthorized || env["auth_token"] != "" {
		t.Errorf("a forged Kazoo token: %d %v, want 401 without the token echoed", st, env["auth_token"])
	}
}
