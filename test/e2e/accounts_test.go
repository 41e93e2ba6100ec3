package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// TestAccountsAndAuth walks the foundation's acceptance path: master login,
// sub-accounts, listings, the sub-account's own key, and the 403 boundary.
func TestAccountsAndAuth(t *testing.T) { forEachStore(t, testAccountsAndAuth) }

func testAccountsAndAuth(t *testing.T, e *env) {
	s := e.start(t)
	master, masterID := s.login(t, e.apiKey)

	reseller := s.createAccount(t, master, masterID, "Reseller", map[string]any{"realm": "reseller.example.com"})
	customer := s.createAccount(t, master, reseller, "Customer", nil)
	sibling := s.createAccount(t, master, masterID, "Sibling", nil)

	got := s.do(t, http.MethodGet, "/v2/accounts/"+customer, master, nil).expect(t, http.StatusOK)
	if got.data()["name"] != "Customer" || got.data()["id"] != customer {
		t.Fatalf("GET account: %s", got.Raw)
	}
	if rev, _ := got.Body["revision"].(string); !strings.HasPrefix(rev, "1-") {
		t.Errorf("revision = %q, want the document _rev", rev)
	}
	if strings.Contains(string(got.Raw), "pvt_") || strings.Contains(string(got.Raw), "api_key") {
		t.Errorf("account leaks private fields: %s", got.Raw)
	}
	if realm := s.do(t, http.MethodGet, "/v2/accounts/"+reseller, master, nil).data()["realm"]; realm != "reseller.example.com" {
		t.Errorf("unknown field realm not kept: %v", realm)
	}

	children := s.do(t, http.MethodGet, "/v2/accounts/"+masterID+"/children", master, nil).expect(t, http.StatusOK)
	if ids := rowIDs(children.list()); !equalSets(ids, []string{reseller, sibling}) {
		t.Errorf("children = %v, want reseller and sibling", ids)
	}
	desc := s.do(t, http.MethodGet, "/v2/accounts/"+masterID+"/descendants", master, nil).expect(t, http.StatusOK)
	if ids := rowIDs(desc.list()); !equalSets(ids, []string{reseller, customer, sibling}) {
		t.Errorf("descendants = %v", ids)
	}
	for _, row := range desc.list() {
		m := row.(map[string]any)
		if m["id"] == customer {
			tree, _ := m["tree"].([]any)
			if len(tree) != 2 || tree[0] != masterID || tree[1] != reseller {
				t.Errorf("customer tree = %v, want [master reseller]", tree)
			}
		}
	}

	key := s.do(t, http.MethodGet, "/v2/accounts/"+reseller+"/api_key", master, nil).expect(t, http.StatusOK).data()["api_key"].(string)
	resTok, resID := s.login(t, key)
	if resID != reseller {
		t.Fatalf("reseller key logged in as %s", resID)
	}
	s.do(t, http.MethodGet, "/v2/accounts/"+reseller, resTok, nil).expect(t, http.StatusOK)
	s.do(t, http.MethodGet, "/v2/accounts/"+customer, resTok, nil).expect(t, http.StatusOK)
	for _, other := range []string{masterID, sibling} {
		r := s.do(t, http.MethodGet, "/v2/accounts/"+other, resTok, nil).expect(t, http.StatusForbidden)
		if r.Body["error"] != "403" || r.Body["message"] != "forbidden" {
			t.Errorf("403 envelope: %s", r.Raw)
		}
		s.do(t, http.MethodPut, "/v2/accounts/"+other, resTok, map[string]any{"data": map[string]any{"name": "x"}}).expect(t, http.StatusForbidden)
		s.do(t, http.MethodGet, "/v2/accounts/"+other+"/api_key", resTok, nil).expect(t, http.StatusForbidden)
	}

	// port_authority: an ancestor may set it, the account itself may not.
	s.do(t, http.MethodPost, "/v2/accounts/"+reseller, resTok, map[string]any{"data": map[string]any{"port_authority": true}}).expect(t, http.StatusForbidden)
	r := s.do(t, http.MethodPost, "/v2/accounts/"+reseller, master, map[string]any{"data": map[string]any{"port_authority": true, "name": "Reseller Inc"}}).expect(t, http.StatusOK)
	if r.data()["port_authority"] != true || r.data()["name"] != "Reseller Inc" {
		t.Errorf("POST account: %s", r.Raw)
	}
	// The account may rename itself.
	s.do(t, http.MethodPost, "/v2/accounts/"+reseller, resTok, map[string]any{"data": map[string]any{"name": "Reseller Two"}}).expect(t, http.StatusOK)
}

// TestRestartKeepsAccountsAndTokens checks persistence across a restart and
// that a token survives it when the secret is shared.
func TestRestartKeepsAccountsAndTokens(t *testing.T) {
	forEachStore(t, testRestartKeepsAccountsAndTokens)
}

func testRestartKeepsAccountsAndTokens(t *testing.T, e *env) {
	s := e.start(t)
	token, masterID := s.login(t, e.apiKey)
	child := s.createAccount(t, token, masterID, "Child", nil)
	if err := s.stop(); err != nil {
		t.Fatalf("graceful stop: exit %v\n%s", err, s.logs.String())
	}
	if !strings.Contains(s.logs.String(), `"msg":"stopped"`) {
		t.Errorf("no clean shutdown logged:\n%s", s.logs.String())
	}

	s2 := e.start(t)
	r := s2.do(t, http.MethodGet, "/v2/accounts/"+child, token, nil).expect(t, http.StatusOK)
	if r.data()["name"] != "Child" {
		t.Errorf("after restart: %s", r.Raw)
	}
	if _, id := s2.login(t, e.apiKey); id != masterID {
		t.Errorf("a second master was created: %s != %s", id, masterID)
	}
	// Another secret: the old token is refused.
	if err := s2.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	e.secret = "another-token-secret-0123456789abcdef"
	s3 := e.start(t)
	s3.do(t, http.MethodGet, "/v2/accounts/"+child, token, nil).expect(t, http.StatusUnauthorized)
}

// TestNoSecretsInLogs makes sure the master key, tokens and the CouchDB
// password never reach the log.
func TestNoSecretsInLogs(t *testing.T) { forEachStore(t, testNoSecretsInLogs) }

func testNoSecretsInLogs(t *testing.T, e *env) {
	e.apiKey = "very-secret-master-key-0123456789"
	s := e.start(t)
	token, masterID := s.login(t, e.apiKey)
	s.do(t, http.MethodGet, "/v2/accounts/"+masterID+"?api_key="+e.apiKey, token, nil).expect(t, http.StatusOK)
	s.do(t, http.MethodGet, "/v2/accounts/"+masterID+"/api_key", token, nil).expect(t, http.StatusOK)
	_ = s.stop()
	logs := s.logs.String()
	for _, secret := range []string{e.apiKey, token, e.secret} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains a secret %q", secret[:8]+"…")
		}
	}
	if pw := passwordOf(e.couchURL); pw != "" && strings.Contains(logs, ":"+pw+"@") {
		t.Errorf("log contains the CouchDB password")
	}
	if !strings.Contains(logs, `"route":"/v2/accounts/{account_id}/api_key"`) || !strings.Contains(logs, `"request_id"`) {
		t.Errorf("access log lacks route or request id:\n%s", logs)
	}
}

func rowIDs(rows []any) []string {
	var ids []string
	for _, r := range rows {
		if m, ok := r.(map[string]any); ok {
			id, _ := m["id"].(string)
			ids = append(ids, id)
		}
	}
	return ids
}

func equalSets(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		seen[x]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

func passwordOf(u string) string {
	at := strings.Index(u, "@")
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 {
		return ""
	}
	userinfo := u[scheme+3 : at]
	if i := strings.Index(userinfo, ":"); i >= 0 {
		return userinfo[i+1:]
	}
	return ""
}
