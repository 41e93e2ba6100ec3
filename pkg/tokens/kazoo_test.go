package tokens_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/portreqd/portreqd/pkg/kazoo"
	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/tokens"
	"github.com/portreqd/portreqd/pkg/tokens/kazoosite"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

const (
	acct       = "5b8c1f0e2d3a4b5c6d7e8f9012345678"
	user       = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	userSecret = "1234567890abcdef1234567890abcdef"
	acctSecret = "fedcba0987654321fedcba0987654321"

	// Accounts a token may masquerade as ("as"), or not.
	child        = "6c8c1f0e2d3a4b5c6d7e8f9012345678"
	childUser    = "1a1b2c3d4e5f60718293a4b5c6d7e8f9"
	grandchild   = "7c8c1f0e2d3a4b5c6d7e8f9012345678"
	stranger     = "8c8c1f0e2d3a4b5c6d7e8f9012345678"
	deletedChild = "9c8c1f0e2d3a4b5c6d7e8f9012345678"
)

// putAccounts stores the accounts of the masquerade cases in Kazoo's
// accounts database, each with its pvt_tree.
func putAccounts(t *testing.T, st *kazoo.Store) {
	t.Helper()
	for id, doc := range map[string]map[string]any{
		child:        {"pvt_tree": []string{acct}},
		grandchild:   {"pvt_tree": []string{acct, child}},
		stranger:     {"pvt_tree": []string{"ffffffffffffffffffffffffffffffff"}},
		deletedChild: {"pvt_tree": []string{acct}, "pvt_deleted": true},
	} {
		doc["_id"], doc["pvt_type"] = id, "account"
		body, _ := json.Marshal(doc)
		if err := st.RawPut(context.Background(), "accounts", &porting.RawDoc{ID: id, Body: body}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// as is a token's masquerade member.
func as(account, owner string) map[string]any {
	out := map[string]any{}
	if account != "" {
		out["account_id"] = account
	}
	if owner != "" {
		out["owner_id"] = owner
	}
	return out
}

// clock is a test's time, moved by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Kazoo's tokens, minted the way Kazoo mints them, verify; every kind of
// forgery, an expired token and an unknown key are refused; a key Kazoo
// rotates and a new password are picked up.
func TestKazooTokens(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { testKazooTokens(t, kazootest.Embedded(t)) })
	t.Run("couchdb", func(t *testing.T) {
		testKazooTokens(t, kazootest.Couch(t, couchdbtest.URL(t), couchdbtest.Prefix()+"kazootokens_"))
	})
}

func testKazooTokens(t *testing.T, st *kazoo.Store) {
	ctx := context.Background()
	site := kazoosite.New(t, st)
	site.Identity(acct, user, "user", userSecret)
	site.Identity(acct, acct, "account", acctSecret)
	putAccounts(t, st)
	clk := &clock{now: time.Now()}
	v := &tokens.Kazoo{Store: st, Now: clk.Now}
	exp := clk.now.Add(time.Hour)

	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(&site.Key.PublicKey))})
	hsWithPublicKey := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims(site.UserClaims(acct, user, userSecret, exp)))
		tok.Header["kid"] = site.KID
		s, _ := tok.SignedString(pubPEM)
		return s
	}()
	none := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(site.UserClaims(acct, user, userSecret, exp)))
		tok.Header["kid"] = site.KID
		s, _ := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		return s
	}()
	tampered := func() string {
		good := site.Mint("RS256", jwt.MapClaims(site.UserClaims(acct, user, userSecret, exp)))
		other := site.Mint("RS256", jwt.MapClaims(site.UserClaims("ffffffffffffffffffffffffffffffff", user, userSecret, exp)))
		return good[:indexDot(good)] + other[indexDot(other):lastDot(other)] + good[lastDot(good):]
	}()
	with := func(m jwt.MapClaims, k string, val any) jwt.MapClaims {
		out := jwt.MapClaims{}
		for a, b := range m {
			out[a] = b
		}
		if val == nil {
			delete(out, k)
		} else {
			out[k] = val
		}
		return out
	}
	uc := jwt.MapClaims(site.UserClaims(acct, user, userSecret, exp))
	unknownKid := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, uc)
		tok.Header["kid"] = "00000000000000000000000000000000"
		s, _ := tok.SignedString(site.Key)
		return s
	}()

	for _, tt := range []struct {
		name  string
		token string
		want  tokens.Identity // zero: refused
	}{
		{"RS256 user token", site.Mint("RS256", uc), tokens.Identity{AccountID: acct, OwnerID: user, Method: "cb_user_auth"}},
		{"RS384", site.Mint("RS384", uc), tokens.Identity{AccountID: acct, OwnerID: user, Method: "cb_user_auth"}},
		{"RS512", site.Mint("RS512", uc), tokens.Identity{AccountID: acct, OwnerID: user, Method: "cb_user_auth"}},
		{"API key token (the account's secret)", site.Mint("RS256", jwt.MapClaims{"account_id": acct, "method": "cb_api_auth",
			"iss": "kazoo", "exp": exp.Unix(), "identity_sig": site.Sig(acct, acctSecret)}), tokens.Identity{AccountID: acct, Method: "cb_api_auth"}},
		{"tampered payload", tampered, tokens.Identity{}},
		{"expired", site.Mint("RS256", with(uc, "exp", clk.now.Add(-time.Second).Unix())), tokens.Identity{}},
		{"no exp", site.Mint("RS256", with(uc, "exp", nil)), tokens.Identity{}},
		{"unknown kid", unknownKid, tokens.Identity{}},
		{"alg none", none, tokens.Identity{}},
		{"HS256 keyed with the public key", hsWithPublicKey, tokens.Identity{}},
		{"identity_sig of another secret", site.Mint("RS256", with(uc, "identity_sig", site.Sig(user, "0000"))), tokens.Identity{}},
		{"no identity_sig", site.Mint("RS256", with(uc, "identity_sig", nil)), tokens.Identity{}},
		{"another issuer", site.Mint("RS256", with(uc, "iss", "elsewhere")), tokens.Identity{}},
		{"a user that does not exist", site.Mint("RS256", jwt.MapClaims(site.UserClaims(acct, "99999999999999999999999999999999", userSecret, exp))), tokens.Identity{}},
		{"garbage", "not.a.token", tokens.Identity{}},
		{"as a user of a child account", site.Mint("RS256", with(uc, "as", as(child, childUser))), tokens.Identity{AccountID: child, OwnerID: childUser, Via: acct, Method: "cb_user_auth"}},
		{"as a user of a grandchild", site.Mint("RS256", with(uc, "as", as(grandchild, childUser))), tokens.Identity{AccountID: grandchild, OwnerID: childUser, Via: acct, Method: "cb_user_auth"}},
		{"as without owner_id (ignored)", site.Mint("RS256", with(uc, "as", as(child, ""))), tokens.Identity{AccountID: acct, OwnerID: user, Method: "cb_user_auth"}},
		{"as without account_id (ignored)", site.Mint("RS256", with(uc, "as", as("", childUser))), tokens.Identity{AccountID: acct, OwnerID: user, Method: "cb_user_auth"}},
		{"as another tree's account", site.Mint("RS256", with(uc, "as", as(stranger, childUser))), tokens.Identity{}},
		{"as the token's own account", site.Mint("RS256", with(uc, "as", as(acct, childUser))), tokens.Identity{}},
		{"as a deleted child", site.Mint("RS256", with(uc, "as", as(deletedChild, childUser))), tokens.Identity{}},
		{"as an account that does not exist", site.Mint("RS256", with(uc, "as", as("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", childUser))), tokens.Identity{}},
		{"as a path", site.Mint("RS256", with(uc, "as", as("../_all_dbs", childUser))), tokens.Identity{}},
		{"as not an object", site.Mint("RS256", with(uc, "as", "child")), tokens.Identity{}},
		{"as a child, forged by a stranger's signature", site.Mint("RS256", with(with(uc, "as", as(child, childUser)), "identity_sig", site.Sig(user, "0000"))), tokens.Identity{}},
	} {
		got, err := v.Verify(ctx, tt.token)
		switch {
		case tt.want != (tokens.Identity{}) && (err != nil || got != tt.want):
			t.Errorf("%s: %+v, %v; want %+v", tt.name, got, err, tt.want)
		case tt.want == (tokens.Identity{}) && !errors.Is(err, tokens.ErrKazooToken):
			t.Errorf("%s: %+v, %v; want refused", tt.name, got, err)
		}
	}

	// Kazoo rotates the key under the same kid: a token of the new key
	// verifies at once (the failed signature sends for the key again), and
	// the old key's tokens are refused once the verified ones lapse.
	old := site.Mint("RS256", uc)
	if _, err := v.Verify(ctx, old); err != nil {
		t.Fatal(err)
	}
	site.Rotate()
	clk.add(2 * time.Second)
	if _, err := v.Verify(ctx, site.Mint("RS256", with(uc, "method", "rotated"))); err != nil {
		t.Errorf("a token of the rotated key: %v", err)
	}
	clk.add(time.Minute)
	if _, err := v.Verify(ctx, old); !errors.Is(err, tokens.ErrKazooToken) {
		t.Errorf("a token of the key rotated away: %v, want refused", err)
	}

	// A new password gives the user a new secret: its tokens end.
	fresh := site.Mint("RS256", uc)
	if _, err := v.Verify(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	site.Identity(acct, user, "user", "abababababababababababababababab")
	clk.add(time.Minute)
	if _, err := v.Verify(ctx, fresh); !errors.Is(err, tokens.ErrKazooToken) {
		t.Errorf("a token after the password changed: %v, want refused", err)
	}
}

// Kazoo 4.0's tokens are token_auth documents: valid for an hour after
// their last use, by default; "as" masquerades as in a JWT.
func TestKazooTokenAuthDocuments(t *testing.T) {
	ctx := context.Background()
	st := kazootest.Embedded(t)
	putAccounts(t, st)
	now := time.Now()
	greg := func(t time.Time) int64 { return porting.Gregorian(t) }
	for id, doc := range map[string]map[string]any{
		"3f2a9c1e8b7d6a5f4e3d2c1b0a998877": {"account_id": acct, "owner_id": user, "method": "cb_user_auth", "pvt_created": greg(now.Add(-3 * time.Hour)), "pvt_modified": greg(now.Add(-10 * time.Minute))},
		"4f2a9c1e8b7d6a5f4e3d2c1b0a998877": {"account_id": acct, "owner_id": user, "method": "cb_user_auth", "pvt_modified": greg(now.Add(-2 * time.Hour))},
		"5f2a9c1e8b7d6a5f4e3d2c1b0a998877": {"account_id": acct, "created": greg(now), "modified": greg(now.Add(-time.Minute))},
		"7f2a9c1e8b7d6a5f4e3d2c1b0a998877": {"account_id": acct, "owner_id": user, "pvt_modified": greg(now), "as": as(child, childUser)},
		"8f2a9c1e8b7d6a5f4e3d2c1b0a998877": {"account_id": acct, "owner_id": user, "pvt_modified": greg(now), "as": as(stranger, childUser)},
	} {
		doc["_id"] = id
		body, _ := json.Marshal(doc)
		if err := st.RawPut(ctx, "token_auth", &porting.RawDoc{ID: id, Body: body}, nil); err != nil {
			t.Fatal(err)
		}
	}
	v := &tokens.Kazoo{Store: st, Now: func() time.Time { return now }}
	for token, want := range map[string]tokens.Identity{
		"3f2a9c1e8b7d6a5f4e3d2c1b0a998877": {AccountID: acct, OwnerID: user, Method: "cb_user_auth"},
		"4f2a9c1e8b7d6a5f4e3d2c1b0a998877": {},
		"5f2a9c1e8b7d6a5f4e3d2c1b0a998877": {AccountID: acct},
		"6f2a9c1e8b7d6a5f4e3d2c1b0a998877": {},
		"7f2a9c1e8b7d6a5f4e3d2c1b0a998877": {AccountID: child, OwnerID: childUser, Via: acct},
		"8f2a9c1e8b7d6a5f4e3d2c1b0a998877": {},
		"../_all_dbs":                      {},
	} {
		got, err := v.Verify(ctx, token)
		switch {
		case want != (tokens.Identity{}) && (err != nil || got != want):
			t.Errorf("%s: %+v, %v; want %+v", token, got, err, want)
		case want == (tokens.Identity{}) && !errors.Is(err, tokens.ErrKazooToken):
			t.Errorf("%s: %+v, %v; want refused", token, got, err)
		}
	}
}

// A Kazoo 4.0 token in use stays valid: each use (at most one write a
// minute) moves its pvt_modified, as crossbar's does; unused for longer
// than the lifetime, it lapses. A failed write is reported without the
// token and the call goes on.
func TestKazooTokenAuthKeptAlive(t *testing.T) {
	t.Run("embedded", func(t *testing.T) { testKazooTokenAuthKeptAlive(t, kazootest.Embedded(t)) })
	t.Run("couchdb", func(t *testing.T) {
		testKazooTokenAuthKeptAlive(t, kazootest.Couch(t, couchdbtest.URL(t), couchdbtest.Prefix()+"kazootouch_"))
	})
}

// failingTouch is a store whose every touch fails, naming the token as an
// engine's error may (a URL).
type failingTouch struct{ *kazoo.Store }

func (failingTouch) TouchToken(_ context.Context, id string, _ time.Time) error {
	return fmt.Errorf("PUT http://couch/token_auth/%s: connection reset", id)
}

func testKazooTokenAuthKeptAlive(t *testing.T, st *kazoo.Store) {
	ctx := context.Background()
	clk := &clock{now: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)}
	const token, quiet = "3f2a9c1e8b7d6a5f4e3d2c1b0a998877", "4f2a9c1e8b7d6a5f4e3d2c1b0a998877"
	for id, modified := range map[string]time.Time{token: clk.now.Add(-50 * time.Minute), quiet: clk.now.Add(-20 * time.Second)} {
		body, _ := json.Marshal(map[string]any{"account_id": acct, "owner_id": user, "pvt_modified": porting.Gregorian(modified)})
		if err := st.RawPut(ctx, "token_auth", &porting.RawDoc{ID: id, Body: body}, nil); err != nil {
			t.Fatal(err)
		}
	}
	modified := func(id string) time.Time {
		t.Helper()
		d, err := st.RawGet(ctx, "token_auth", id)
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			PvtModified int64 `json:"pvt_modified"`
		}
		_ = json.Unmarshal(d.Body, &m)
		return porting.FromGregorian(m.PvtModified)
	}
	v := &tokens.Kazoo{Store: st, Now: clk.Now}
	verify := func(id string, valid bool) {
		t.Helper()
		got, err := v.Verify(ctx, id)
		switch {
		case valid && (err != nil || got != tokens.Identity{AccountID: acct, OwnerID: user}):
			t.Errorf("at %s: %+v, %v; want valid", clk.Now().Format(time.TimeOnly), got, err)
		case !valid && !errors.Is(err, tokens.ErrKazooToken):
			t.Errorf("at %s: %+v, %v; want refused", clk.Now().Format(time.TimeOnly), got, err)
		}
	}
	verify(token, true)
	if got := modified(token); !got.Equal(clk.Now()) {
		t.Errorf("pvt_modified after a use: %s, want %s", got, clk.Now())
	}
	before := modified(quiet)
	verify(quiet, true)
	if got := modified(quiet); !got.Equal(before) {
		t.Errorf("a token used 20 s after its last use was written: pvt_modified %s, was %s", got, before)
	}
	clk.add(40 * time.Minute) // 90 minutes after the token's first pvt_modified
	verify(token, true)
	clk.add(61 * time.Minute)
	verify(token, false)

	// A touch that fails: the call still verifies; the report hides the token.
	var reported []error
	clk.add(-60 * time.Minute)
	f := &tokens.Kazoo{Store: failingTouch{st}, Now: clk.Now, TouchFailed: func(err error) { reported = append(reported, err) }}
	if _, err := f.Verify(ctx, token); err != nil {
		t.Fatalf("with the touch failing: %v", err)
	}
	if len(reported) != 1 || strings.Contains(reported[0].Error(), token) || !strings.Contains(reported[0].Error(), "connection reset") {
		t.Errorf("reported: %v; want one error, without the token", reported)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func indexDot(s string) int {
	for i := range s {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}

func lastDot(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}
