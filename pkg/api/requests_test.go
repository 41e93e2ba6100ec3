package api_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/accountcache"
	"github.com/portreqd/portreqd/pkg/api"
	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/rows"
	"github.com/portreqd/portreqd/pkg/tokens"
)

// newChargingFixture is newFixture with an activation charge of 10.
func newChargingFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	store := kazootest.Embedded(t)
	svc := porting.NewService(porting.Config{Store: store, Accounts: accountcache.New(2*time.Second, time.Now), Rules: porting.Rules{ActivationCharge: 10}})
	master, _, err := svc.Bootstrap(ctx, "golden-master-key")
	if err != nil {
		t.Fatal(err)
	}
	tokens := tokens.NewIssuer([]byte("golden-secret"), time.Hour, time.Now)
	f := &fixture{masterID: master.ID, tokens: tokens}
	f.srv = newServer(t, api.New(api.Config{Service: svc, Rows: rows.New(rows.Config{Store: store, Service: svc}), Tokens: tokens, MaxUploadBytes: 1024}))
	f.token, _ = tokens.Issue(master.ID)
	return f
}

// TestPortRequestEnvelopes pins the port request error shapes of the seed
// and SPEC §2.
func TestPortRequestEnvelopes(t *testing.T) {
	f := newChargingFixture(t)
	base := "/v2/accounts/" + f.masterID + "/port_requests"
	create := func(numbers string) string {
		t.Helper()
		_, raw := f.do(t, "PUT", base, f.token, `{"data":{"name":"Porting 202.555.9000","numbers":`+numbers+`}}`, nil)
		var env struct {
			Data struct{ ID string } `json:"data"`
		}
		if err := json.Unmarshal(raw, &env); err != nil || env.Data.ID == "" {
			t.Fatalf("create: %s", raw)
		}
		return env.Data.ID
	}
	held := create(`{"+12025559000":{}}`)
	if resp, raw := f.do(t, "PATCH", base+"/"+held+"/submitted?accept_charges=true", f.token, "", nil); resp.StatusCode != 200 {
		t.Fatalf("submit: %s", raw)
	}
	draft := create(`{"+12025559001":{}}`)
	unknown := "0123456789abcdef0123456789abcdef"

	cases := []struct {
		name, method, path, body string
		headers                  map[string]string
		status                   int
	}{
		{"request_created", "PUT", base, `{"data":{"name":"n","numbers":{"2025559002":{}}}}`, nil, 201},
		{"number_on_request", "PUT", base, `{"data":{"name":"n","numbers":{"2025559000":{}}}}`, nil, 500},
		{"number_invalid", "PUT", base, `{"data":{"name":"n","numbers":{"555":{}}}}`, nil, 400},
		{"illegal_transition", "PATCH", base + "/" + draft + "/pending", "", nil, 500},
		{"accept_charges", "PATCH", base + "/" + draft + "/submitted", "", nil, 402},
		{"unknown_request", "GET", base + "/" + unknown, "", nil, 404},
		{"delete_wrong_state", "DELETE", base + "/" + held, `{"data":{}}`, nil, 405},
		{"upload_too_large", "PUT", base + "/" + draft + "/attachments?filename=big.pdf", "%PDF-" + strings.Repeat("x", 2000), map[string]string{"Content-Type": "application/pdf"}, 413},
		{"upload_not_pdf", "PUT", base + "/" + draft + "/attachments?filename=x.pdf", "hello", map[string]string{"Content-Type": "application/pdf"}, 415},
		{"upload_bad_type", "PUT", base + "/" + draft + "/attachments?filename=x.png", "png", map[string]string{"Content-Type": "image/png"}, 415},
		{"unknown_attachment", "GET", base + "/" + draft + "/attachments/nope.pdf", "", map[string]string{"Accept": "application/pdf"}, 404},
		{"window_inverted", "GET", base + "/completed?modified_from=200&modified_to=100", "", nil, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, raw := f.do(t, c.method, c.path, f.token, c.body, c.headers)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, raw)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			golden(t, c.name, raw)
		})
	}
	// Nothing changed by the failures above.
	_, raw := f.do(t, "GET", base+"/"+draft, f.token, "", nil)
	if !strings.Contains(string(raw), `"port_state":"unconfirmed"`) || !strings.Contains(string(raw), `"uploads":{}`) {
		t.Errorf("a failed call changed the draft: %s", raw)
	}
}
