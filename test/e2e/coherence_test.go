package e2e

import (
	"testing"
	"time"
)

// TestAccountWritesSeenByOtherReplicas renames an account through one
// replica and reads it through another that keeps accounts for an hour
// (--account-cache-ttl 1h): only the accounts' _changes feed can make the
// second replica drop its copy, so the new name showing there (and in a
// port request's _read_only block) proves the feed works. The time it took
// is logged; it is no assertion.
func TestAccountWritesSeenByOtherReplicas(t *testing.T) {
	e := newEnv(t, storeCouch)
	s1 := e.start(t)
	s2 := e.start(t, "--account-cache-ttl", "1h")
	mtok, master := s1.login(t, e.apiKey)
	tok, acct := s1.customer(t, mtok, master, "Before")
	id := s1.createRequest(t, tok, acct, "coherent", "+13035550177")
	// Both replicas hold the account now.
	for _, s := range []*server{s1, s2} {
		if got := s.do(t, "GET", "/v2/accounts/"+acct, mtok, nil).expect(t, 200).data()["name"]; got != "Before" {
			t.Fatalf("name %v before the rename", got)
		}
		s.do(t, "GET", "/v2/accounts/"+acct+"/port_requests/"+id, tok, nil).expect(t, 200)
	}
	s1.do(t, "POST", "/v2/accounts/"+acct, mtok, map[string]any{"data": map[string]any{"name": "After"}}).expect(t, 200)
	start := time.Now()
	for {
		name := s2.do(t, "GET", "/v2/accounts/"+acct, mtok, nil).expect(t, 200).data()["name"]
		ro, _ := s2.do(t, "GET", "/v2/accounts/"+acct+"/port_requests/"+id, tok, nil).expect(t, 200).data()["_read_only"].(map[string]any)
		if name == "After" && ro["account_name"] == "After" {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("10 s after the rename the other replica shows %v (request: %v)", name, ro["account_name"])
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("the rename showed on the other replica after %s", time.Since(start).Round(time.Millisecond))
}
