package api_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/api"
	"github.com/portreqd/portreqd/pkg/kazoo"
	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/rows"
	"github.com/portreqd/portreqd/pkg/tokens"
	"github.com/portreqd/portreqd/pkg/tokens/kazoosite"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

// sessionsFixture is a portreqd with one customer account, a user of it
// (Carol) and a clock the test moves.
type sessionsFixture struct {
	srv      string
	store    *kazoo.Store
	svc      *porting.Service
	master   *porting.Account
	customer *porting.Account
	carol    *porting.User
	keyTok   string // the customer's API-key token (no user)
	site     *kazoosite.Site

	mu  sync.Mutex
	now time.Time
}

func (f *sessionsFixture) clock() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *sessionsFixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func newSessionsFixture(t *testing.T, store *kazoo.Store) *sessionsFixture {
	t.Helper()
	ctx := context.Background()
	f := &sessionsFixture{now: time.Now(), store: store}
	f.svc = porting.NewService(porting.Config{Store: f.store})
	var err error
	if f.master, _, err = f.svc.Bootstrap(ctx, "sessions-master-key"); err != nil {
		t.Fatal(err)
	}
	acct := porting.Fields{}
	acct.Set("name", "Customer Co")
	if f.customer, err = f.svc.CreateAccount(ctx, f.master, f.master.ID, acct); err != nil {
		t.Fatal(err)
	}
	user := porting.Fields{}
	for k, v := range map[string]string{"first_name": "Carol", "last_name": "Customer", "username": "carol", "password": "correct horse"} {
		user.Set(k, v)
	}
	if f.carol, err = f.svc.CreateUser(ctx, f.master, f.customer.ID, user); err != nil {
		t.Fatal(err)
	}
	issuer := tokens.NewIssuer([]byte("sessions-test-secret-0123456789abcdef"), time.Hour, f.clock)
	if f.keyTok, err = issuer.Issue(f.customer.ID); err != nil {
		t.Fatal(err)
	}
	h := api.New(api.Config{Service: f.svc, Rows: rows.New(rows.Config{Store: f.store, Service: f.svc}), Tokens: issuer,
		Kazoo: &tokens.Kazoo{Store: f.store, Now: f.clock}, MaxUploadBytes: 1 << 20, Now: f.clock})
	f.srv = newServer(t, h).URL
	f.site = kazoosite.New(t, f.store)
	return f
}

// call answers method path with body (a Crossbar data envelope's
// content, nil for none) and token (X-Auth-Token, "" for none).
func (f *sessionsFixture) call(t *testing.T, method, path, token string, data any) (int, map[string]any) {
	t.Helper()
	var body string
	if data != nil {
		b, _ := json.Marshal(map[string]any{"data": data})
		body = string(b)
	}
	req, _ := http.NewRequest(method, f.srv+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, env
}

// login logs Carol in through user_auth and returns her token.
func (f *sessionsFixture) login(t *testing.T) string {
	t.Helper()
	st, env := f.call(t, "PUT", "/v2/user_auth", "", map[string]any{
		"credentials": md5hex("carol:correct horse"), "account_name": "Customer Co"})
	if st != http.StatusCreated {
		t.Fatalf("user_auth: %d %v", st, env)
	}
	return env["auth_token"].(string)
}

// Monster UI resumes a session from its cookie with auth/tokeninfo: a
// user's token (portreqd's after user_auth, or Kazoo's) tells the account
// and the user; an API key's the account alone; a token that does not
// verify, has expired or whose user is gone is 401, and none is 404. A
// deleted or disabled user's token stops working on every route within
// the recheck window.
func TestTokenInfo(t *testing.T) {
	onBothStores(t, "tokeninfo_", testTokenInfo)
}

// onBothStores runs test on the embedded store and on CouchDB.
func onBothStores(t *testing.T, prefix string, test func(*testing.T, *kazoo.Store)) {
	t.Helper()
	t.Run("embedded", func(t *testing.T) { test(t, kazootest.Embedded(t)) })
	t.Run("couchdb", func(t *testing.T) { test(t, kazootest.Couch(t, couchdbtest.URL(t), couchdbtest.Prefix()+prefix)) })
}

func testTokenInfo(t *testing.T, store *kazoo.Store) {
	f := newSessionsFixture(t, store)
	carolTok := f.login(t)
	const kazooUser = "0123456789abcdef0123456789abcd00"
	const kazooSecret = "5ec4e75ec4e75ec4e75ec4e75ec4e75e"
	f.site.Identity(f.customer.ID, kazooUser, "user", kazooSecret)
	kazooTok := f.site.Mint("RS256", f.site.UserClaims(f.customer.ID, kazooUser, kazooSecret, f.clock().Add(time.Hour)))

	type answer struct {
		Status  int
		Token   string
		Account string
		Owner   string
		Name    string
	}
	ask := func(method, token string) answer {
		t.Helper()
		var st int
		var env map[string]any
		if method == "GET" {
			st, env = f.call(t, "GET", "/v2/auth/tokeninfo?token="+token, "", nil)
		} else {
			st, env = f.call(t, "POST", "/v2/auth/tokeninfo", "", map[string]any{"token": token})
		}
		a := answer{Status: st}
		a.Token, _ = env["auth_token"].(string)
		data, _ := env["data"].(map[string]any)
		a.Account, _ = data["account_id"].(string)
		a.Owner, _ = data["owner_id"].(string)
		a.Name, _ = data["account_name"].(string)
		return a
	}
	for _, method := range []string{"POST", "GET"} {
		for _, c := range []struct {
			name  string
			token string
			want  answer
		}{
			{"user_auth's token", carolTok, answer{200, carolTok, f.customer.ID, f.carol.ID, "Customer Co"}},
			{"an API key's token", f.keyTok, answer{200, f.keyTok, f.customer.ID, "", "Customer Co"}},
			{"Kazoo's token", kazooTok, answer{200, kazooTok, f.customer.ID, kazooUser, "Customer Co"}},
			{"a tampered token", carolTok[:len(carolTok)-3] + "abc", answer{Status: 401}},
			{"not a token", "not-a-token", answer{Status: 401}},
			{"no token", "", answer{Status: 404}},
		} {
			if got := ask(method, c.token); got != c.want {
				t.Errorf("%s tokeninfo, %s: %+v, want %+v", method, c.name, got, c.want)
			}
		}
	}

	// Carol's token acts on her account's port routes.
	reqs := "/v2/accounts/" + f.customer.ID + "/port_requests"
	if st, env := f.call(t, "GET", reqs, carolTok, nil); st != 200 {
		t.Fatalf("Carol's token on the port listing: %d %v", st, env)
	}

	// Disabled: refused once the recheck window has passed, everywhere.
	ctx := context.Background()
	setEnabled := func(on bool) {
		t.Helper()
		data := porting.Fields{}
		for k, v := range f.carol.Public {
			data[k] = v
		}
		data.Set("enabled", on)
		if _, err := f.svc.UpdateUser(ctx, f.master, f.customer.ID, f.carol.ID, data); err != nil {
			t.Fatal(err)
		}
		f.advance(userRecheck)
	}
	setEnabled(false)
	if st, env := f.call(t, "GET", reqs, carolTok, nil); st != 401 {
		t.Errorf("a disabled user's token on the port listing: %d %v, want 401", st, env)
	}
	if got := ask("POST", carolTok); got.Status != 401 {
		t.Errorf("tokeninfo of a disabled user's token: %+v, want 401", got)
	}
	// Deleted: the same.
	setEnabled(true)
	if st, env := f.call(t, "GET", reqs, carolTok, nil); st != 200 {
		t.Fatalf("re-enabled: %d %v", st, env)
	}
	if _, err := f.svc.DeleteUser(ctx, f.master, f.customer.ID, f.carol.ID); err != nil {
		t.Fatal(err)
	}
	f.advance(userRecheck)
	if st, env := f.call(t, "GET", reqs, carolTok, nil); st != 401 {
		t.Errorf("a deleted user's token on the port listing: %d %v, want 401", st, env)
	}
	if got := ask("GET", carolTok); got.Status != 401 {
		t.Errorf("tokeninfo of a deleted user's token: %+v, want 401", got)
	}
	// The API key's token never named a user: unaffected.
	if st, env := f.call(t, "GET", reqs, f.keyTok, nil); st != 200 {
		t.Errorf("the API key's token after the user's deletion: %d %v", st, env)
	}
	// Expired.
	f.advance(time.Hour)
	if got := ask("POST", f.keyTok); got.Status != 401 {
		t.Errorf("tokeninfo of an expired token: %+v, want 401", got)
	}
}

// A transition made with a user's token names the user as Kazoo's do
// (authorization.user: id, first, last and full name), so that Monster
// UI's detail view shows who submitted; an API key's names the account
// alone, and last_submitted stands the account's name in for the user.
func TestTransitionsNameTheUser(t *testing.T) {
	onBothStores(t, "transitionuser_", testTransitionsNameTheUser)
}

func testTransitionsNameTheUser(t *testing.T, store *kazoo.Store) {
	f := newSessionsFixture(t, store)
	carolTok := f.login(t)
	reqs := "/v2/accounts/" + f.customer.ID + "/port_requests"
	file := func(token, number string) string {
		t.Helper()
		st, env := f.call(t, "PUT", reqs, token, map[string]any{"name": "move " + number, "numbers": map[string]any{number: map[string]any{}}})
		if st != 201 {
			t.Fatalf("create: %d %v", st, env)
		}
		id := env["data"].(map[string]any)["id"].(string)
		if st, env := f.call(t, "PATCH", reqs+"/"+id+"/submitted", token, map[string]any{"accept_charges": true}); st != 200 {
			t.Fatalf("submit: %d %v", st, env)
		}
		return id
	}
	byCarol, byKey := file(carolTok, "+13125550140"), file(f.keyTok, "+13125550141")

	users := func(id string) []any {
		t.Helper()
		doc, err := f.store.RawGet(context.Background(), porting.RequestAccountDB, id)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			Transitions []struct {
				Authorization struct {
					User any `json:"user"`
				} `json:"authorization"`
			} `json:"pvt_transitions"`
		}
		if err := json.Unmarshal(doc.Body, &d); err != nil {
			t.Fatal(err)
		}
		var out []any
		for _, tr := range d.Transitions {
			out = append(out, tr.Authorization.User)
		}
		return out
	}
	carol := map[string]any{"id": f.carol.ID, "first_name": "Carol", "last_name": "Customer", "full_name": "Carol Customer"}
	if diff := cmp.Diff([]any{carol, carol}, users(byCarol)); diff != "" {
		t.Errorf("Carol's request: the stored transitions' authorization.user (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{nil, nil}, users(byKey)); diff != "" {
		t.Errorf("the API key's request: the stored transitions' authorization.user (-want +got):\n%s", diff)
	}

	st, env := f.call(t, "GET", reqs+"/last_submitted", f.keyTok, nil)
	if st != 200 {
		t.Fatalf("last_submitted: %d %v", st, env)
	}
	got := map[string]any{}
	for _, e := range env["data"].([]any) {
		e := e.(map[string]any)
		tr := e["transition"].(map[string]any)
		got[e["id"].(string)] = tr["authorization"].(map[string]any)["user"]
	}
	want := map[string]any{byCarol: carol, byKey: map[string]any{"first_name": "Customer Co", "last_name": ""}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("last_submitted's submitters (-want +got):\n%s", diff)
	}
}

// userRecheck is a little more than the API's recheck of a user's
// tokens (30 s).
const userRecheck = 31 * time.Second

// md5hex is Monster UI's credentials: the hex MD5 of "username:password".
func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
