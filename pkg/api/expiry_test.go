package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/kazoo"
	"github.com/portreqd/portreqd/pkg/porting"
)

// An account whose trial has ended (Kazoo's pvt_trial_expires) is locked
// out as crossbar locks it: every token of it, portreqd's or Kazoo's, and
// its users' logins answer 423 naming the expiry; a trial still running,
// or none, changes nothing. A masquerading token is judged by its own
// account, as crossbar judges it.
func TestTrialExpired(t *testing.T) {
	onBothStores(t, "trial_", testTrialExpired)
}

func testTrialExpired(t *testing.T, store *kazoo.Store) {
	ctx := context.Background()
	f := newSessionsFixture(t, store)
	carolTok := f.login(t)
	const secret = "5ec4e75ec4e75ec4e75ec4e75ec4e75e"
	kazooUser, masterUser := f.customer.ID[:28]+"0000", f.master.ID[:28]+"0000"
	f.site.Identity(f.customer.ID, kazooUser, "user", secret)
	f.site.Identity(f.master.ID, masterUser, "user", secret)
	kazooTok := f.site.Mint("RS256", f.site.UserClaims(f.customer.ID, kazooUser, secret, f.clock().Add(time.Hour)))
	asClaims := f.site.UserClaims(f.master.ID, masterUser, secret, f.clock().Add(time.Hour))
	asClaims["as"] = map[string]any{"account_id": f.customer.ID, "owner_id": kazooUser}
	masqueraded := f.site.Mint("RS256", asClaims)

	setTrial := func(id string, expires int64) {
		t.Helper()
		d, err := store.RawGet(ctx, "accounts", id)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		_ = json.Unmarshal(d.Body, &m)
		if expires == 0 {
			delete(m, "pvt_trial_expires")
		} else {
			m["pvt_trial_expires"] = expires
		}
		d.Body, _ = json.Marshal(m)
		if err := store.RawPut(ctx, "accounts", d, nil); err != nil {
			t.Fatal(err)
		}
	}
	type answer struct {
		Status  int
		Message string
		Expired any // data.account.expired
	}
	answerOf := func(st int, env map[string]any) answer {
		a := answer{Status: st}
		if st >= 400 {
			a.Message, _ = env["message"].(string)
			data, _ := env["data"].(map[string]any)
			account, _ := data["account"].(map[string]any)
			a.Expired = account["expired"]
		}
		return a
	}
	ask := func(token string) answer {
		t.Helper()
		return answerOf(f.call(t, "GET", "/v2/accounts/"+f.customer.ID+"/port_requests", token, nil))
	}
	login := func() answer {
		t.Helper()
		return answerOf(f.call(t, "PUT", "/v2/user_auth", "", map[string]any{
			"credentials": md5hex("carol:correct horse"), "account_name": "Customer Co"}))
	}
	ok := answer{Status: http.StatusOK}
	tokensOf := map[string]string{"carol's": carolTok, "the API key's": f.keyTok, "Kazoo's": kazooTok, "the master's as the customer": masqueraded}
	expect := func(when string, want map[string]answer, wantLogin answer) {
		t.Helper()
		for name, tok := range tokensOf {
			if got := ask(tok); !equalAnswer(got, want[name]) {
				t.Errorf("%s, %s token: %+v, want %+v", when, name, got, want[name])
			}
		}
		if got := login(); !equalAnswer(got, wantLogin) {
			t.Errorf("%s, login: %+v, want %+v", when, got, wantLogin)
		}
	}
	allOK := map[string]answer{"carol's": ok, "the API key's": ok, "Kazoo's": ok, "the master's as the customer": ok}
	created := answer{Status: http.StatusCreated}

	expect("no trial", allOK, created)

	setTrial(f.customer.ID, porting.Gregorian(time.Now().Add(24*time.Hour)))
	expect("a trial running", allOK, created)

	past := porting.Gregorian(time.Now().Add(-time.Hour))
	setTrial(f.customer.ID, past)
	locked := answer{Status: http.StatusLocked, Message: "locked", Expired: map[string]any{"message": "account expired", "cause": float64(past)}}
	expect("the customer's trial over", map[string]answer{"carol's": locked, "the API key's": locked, "Kazoo's": locked,
		"the master's as the customer": ok}, locked)

	setTrial(f.customer.ID, 0)
	setTrial(f.master.ID, past)
	expect("the master's trial over", map[string]answer{"carol's": ok, "the API key's": ok, "Kazoo's": ok,
		"the master's as the customer": locked}, created)
	setTrial(f.master.ID, 0)
	expect("no trial again", allOK, created)
}

func equalAnswer(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
