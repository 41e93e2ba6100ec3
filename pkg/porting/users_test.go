package porting_test

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/portreqd/portreqd/pkg/kazoo"
	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

// Users are Kazoo's user documents: written with Kazoo's credential
// hashes (never the password), found by user_auth's credentials under the
// account's name or realm, unique by name within an account, and managed
// only from the account's tree. A user Kazoo wrote logs in the same way.
func TestUsers(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) *kazoo.Store{
		"embedded": func(t *testing.T) *kazoo.Store { return kazootest.Embedded(t) },
		"couchdb": func(t *testing.T) *kazoo.Store {
			return kazootest.Couch(t, couchdbtest.URL(t), fmt.Sprintf("%susers_", couchdbtest.Prefix()))
		},
	} {
		t.Run(name, func(t *testing.T) { testUsers(t, open(t)) })
	}
}

func hashes(s string) (string, string) {
	m, h := md5.Sum([]byte(s)), sha1.Sum([]byte(s))
	return hex.EncodeToString(m[:]), hex.EncodeToString(h[:])
}

func testUsers(t *testing.T, st *kazoo.Store) {
	ctx := context.Background()
	svc := porting.NewService(porting.Config{Store: st})
	master, _, err := svc.Bootstrap(ctx, "users-master-key-0123")
	if err != nil {
		t.Fatal(err)
	}
	account := func(name string) *porting.Account {
		t.Helper()
		f := porting.Fields{}
		f.Set("name", name)
		a, err := svc.CreateAccount(ctx, master, master.ID, f)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	acme, other := account("Acme Widgets, Inc."), account("Other Co")
	data := func(m map[string]any) porting.Fields {
		f := porting.Fields{}
		for k, v := range m {
			f.Set(k, v)
		}
		return f
	}

	alice, err := svc.CreateUser(ctx, acme, acme.ID, data(map[string]any{"first_name": "Alice", "last_name": "Admin",
		"username": "Alice", "password": "correct horse", "email": "alice@acme.test", "priv_level": "admin"}))
	if err != nil {
		t.Fatal(err)
	}
	md5hex, sha1hex := hashes("alice:correct horse")
	if alice.MD5Auth != md5hex || alice.SHA1Auth != sha1hex || alice.Username() != "alice" {
		t.Errorf("stored credentials %s/%s for %q, want Kazoo's hashes of alice:correct horse", alice.MD5Auth, alice.SHA1Auth, alice.Username())
	}
	if _, ok := alice.Public["password"]; ok {
		t.Error("the password is stored")
	}
	raw, err := st.RawGet(ctx, porting.AccountDB(acme.ID), alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	_ = json.Unmarshal(raw.Body, &doc)
	if doc["pvt_type"] != "user" || doc["pvt_md5_auth"] != md5hex || doc["password"] != nil || doc["pvt_signature_secret"] == nil {
		t.Errorf("the stored document is not Kazoo's user: %v", doc)
	}

	for _, tt := range []struct {
		name string
		in   porting.LoginInput
		want porting.Kind // -1: logs in
	}{
		{"md5 by name", porting.LoginInput{Credentials: md5hex, AccountName: "acme widgets inc"}, -1},
		{"sha by name", porting.LoginInput{Credentials: sha1hex, Method: "sha", AccountName: "ACME WIDGETS, INC."}, -1},
		{"md5 by realm", porting.LoginInput{Credentials: md5hex, Realm: acme.Other.String("realm")}, -1},
		{"wrong password", porting.LoginInput{Credentials: mustHash("alice:wrong horse"), AccountName: "acmewidgetsinc"}, porting.KindUnauthorized},
		{"another account", porting.LoginInput{Credentials: md5hex, AccountName: "Other Co"}, porting.KindUnauthorized},
		{"unknown method", porting.LoginInput{Credentials: md5hex, Method: "sha256", AccountName: "acmewidgetsinc"}, porting.KindUnauthorized},
		{"no account", porting.LoginInput{Credentials: md5hex}, porting.KindUnauthorized},
	} {
		a, u, err := svc.UserLogin(ctx, tt.in)
		switch {
		case tt.want < 0 && (err != nil || a.ID != acme.ID || u.ID != alice.ID):
			t.Errorf("%s: %v, %v, %v; want alice of acme", tt.name, a, u, err)
		case tt.want >= 0 && porting.KindOf(err) != tt.want:
			t.Errorf("%s: %v, want kind %d", tt.name, err, tt.want)
		}
	}

	// Names are unique per account, not across accounts.
	if _, err := svc.CreateUser(ctx, acme, acme.ID, data(map[string]any{"first_name": "A", "last_name": "B", "username": "ALICE", "password": "another one"})); !porting.IsKind(err, porting.KindValidation) {
		t.Errorf("a second alice in acme: %v, want a validation error", err)
	}
	if _, err := svc.CreateUser(ctx, other, other.ID, data(map[string]any{"first_name": "A", "last_name": "B", "username": "alice", "password": "another one"})); err != nil {
		t.Errorf("alice in another account: %v", err)
	}
	// Tenants keep to their trees.
	if _, err := svc.GetUser(ctx, other, acme.ID, alice.ID); !porting.IsKind(err, porting.KindForbidden) {
		t.Errorf("another tenant reads alice: %v, want forbidden", err)
	}
	for _, bad := range []map[string]any{
		{"last_name": "B", "username": "x", "password": "long enough"},
		{"first_name": "A", "last_name": "B", "username": "x y", "password": "long enough"},
		{"first_name": "A", "last_name": "B", "username": "shorty", "password": "short"},
		{"first_name": "A", "last_name": "B", "priv_level": "root"},
		{"first_name": "A", "last_name": "B", "email": "not an address"},
	} {
		if _, err := svc.CreateUser(ctx, acme, acme.ID, data(bad)); !porting.IsKind(err, porting.KindValidation) {
			t.Errorf("create %v: %v, want a validation error", bad, err)
		}
	}

	// A new password: the old credentials and tokens' secret go.
	secret := alice.SignatureSecret
	alice, err = svc.UpdateUser(ctx, acme, acme.ID, alice.ID, data(map[string]any{"first_name": "Alice", "last_name": "Admin",
		"username": "alice", "password": "battery staple", "priv_level": "admin"}))
	if err != nil {
		t.Fatal(err)
	}
	if alice.SignatureSecret == secret {
		t.Error("a new password kept the signature secret")
	}
	if _, _, err := svc.UserLogin(ctx, porting.LoginInput{Credentials: md5hex, AccountName: "acmewidgetsinc"}); !porting.IsKind(err, porting.KindUnauthorized) {
		t.Errorf("the old password: %v, want unauthorized", err)
	}
	kept, err := svc.UpdateUser(ctx, acme, acme.ID, alice.ID, data(map[string]any{"first_name": "Alice", "last_name": "Porting", "username": "alice", "priv_level": "admin"}))
	if err != nil || kept.MD5Auth != alice.MD5Auth || kept.Public.String("last_name") != "Porting" {
		t.Errorf("an edit without a password: %v, %v; want the members replaced and the credentials kept", kept, err)
	}
	if _, err := svc.UpdateUser(ctx, acme, acme.ID, alice.ID, data(map[string]any{"first_name": "Alice", "last_name": "Admin", "username": "alice2"})); !porting.IsKind(err, porting.KindValidation) {
		t.Errorf("a new name without the password: %v, want a validation error", err)
	}

	// A user as Kazoo writes it logs in; disabled, it is locked out.
	km, ks := hashes("bob:kazoo-made")
	kazooUser := map[string]any{"_id": "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "pvt_type": "user", "first_name": "Bob", "last_name": "K",
		"username": "bob", "pvt_md5_auth": km, "pvt_sha1_auth": ks, "pvt_account_id": acme.ID, "priv_level": "user", "enabled": false}
	body, _ := json.Marshal(kazooUser)
	if err := st.RawPut(ctx, porting.AccountDB(acme.ID), &porting.RawDoc{ID: "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", Body: body}, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.UserLogin(ctx, porting.LoginInput{Credentials: km, AccountName: "acmewidgetsinc"}); !porting.IsKind(err, porting.KindLocked) {
		t.Errorf("a disabled Kazoo user: %v, want locked", err)
	}
	kazooUser["enabled"] = true
	body, _ = json.Marshal(kazooUser)
	if err := st.RawPut(ctx, porting.AccountDB(acme.ID), &porting.RawDoc{ID: "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", Body: body}, nil); err != nil {
		t.Fatal(err)
	}
	if _, u, err := svc.UserLogin(ctx, porting.LoginInput{Credentials: ks, Method: "sha", AccountName: "acmewidgetsinc"}); err != nil || u.Username() != "bob" {
		t.Errorf("a Kazoo user: %v, %v", u, err)
	}
	users, err := svc.ListUsers(ctx, acme, acme.ID)
	if err != nil || len(users) != 2 {
		t.Errorf("acme's users: %d (%v), want alice and bob", len(users), err)
	}

	// Deleted, alice logs in no more and is gone.
	if _, err := svc.DeleteUser(ctx, acme, acme.ID, alice.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.GetUser(ctx, acme, acme.ID, alice.ID); !porting.IsKind(err, porting.KindNotFound) {
		t.Errorf("a deleted user: %v, want not found", err)
	}
	m2, _ := hashes("alice:battery staple")
	if _, _, err := svc.UserLogin(ctx, porting.LoginInput{Credentials: m2, AccountName: "acmewidgetsinc"}); !porting.IsKind(err, porting.KindUnauthorized) {
		t.Errorf("a deleted user logs in: %v", err)
	}

	// Two creates of one name at once: one stands.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = svc.CreateUser(ctx, acme, acme.ID, data(map[string]any{"first_name": "C", "last_name": "D", "username": "carol", "password": "long enough"}))
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !porting.IsKind(err, porting.KindValidation) {
			t.Errorf("a racing create: %v", err)
		}
	}
	ids, err := st.UserIDsByUsername(ctx, acme.ID, "carol")
	if ok != 1 || err != nil || len(ids) != 1 {
		t.Errorf("4 racing creates of carol: %d succeeded, %d stored (%v); want 1 and 1", ok, len(ids), err)
	}
}

func mustHash(s string) string { m, _ := hashes(s); return m }
