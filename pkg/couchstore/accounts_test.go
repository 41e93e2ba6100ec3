package couchstore_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/portreqd/portreqd/pkg/porting"
)

func TestAccountCreateGetUpdate(t *testing.T) {
	e := newEnv(t)
	a := e.createAccount(t, &porting.Account{
		Name: "Acme", Tree: []string{newID(t)}, APIKey: "key-" + newID(t),
		PortAuthority: true, Created: 63900000000, Modified: 63900000001,
	})
	if a.Rev == "" {
		t.Fatal("CreateAccount did not set Rev")
	}
	got, err := e.store.GetAccount(ctx(t), a.ID)
	if err != nil {
		t.Fatalf("GetAccount: %v", err)
	}
	ignoreOther := cmpopts.IgnoreFields(porting.Account{}, "Other")
	if diff := cmp.Diff(a, got, ignoreOther); diff != "" {
		t.Errorf("GetAccount (-want +got):\n%s", diff)
	}

	got.Name = "Acme Renamed"
	oldRev := got.Rev
	if err := e.store.UpdateAccount(ctx(t), got); err != nil {
		t.Fatalf("UpdateAccount: %v", err)
	}
	if got.Rev == "" || got.Rev == oldRev {
		t.Errorf("UpdateAccount Rev = %q, want a new one (old %q)", got.Rev, oldRev)
	}
	again, err := e.store.GetAccount(ctx(t), a.ID)
	if err != nil {
		t.Fatalf("GetAccount: %v", err)
	}
	if diff := cmp.Diff(got, again, ignoreOther); diff != "" {
		t.Errorf("after update (-want +got):\n%s", diff)
	}
	raw := e.rawDoc(t, "accounts", a.ID)
	for k, want := range map[string]any{"pvt_type": "account", "name": "Acme Renamed", "pvt_account_id": a.ID} {
		if raw[k] != want {
			t.Errorf("stored %s = %v, want %v", k, raw[k], want)
		}
	}
}

func TestAccountConflicts(t *testing.T) {
	e := newEnv(t)
	a := e.createAccount(t, &porting.Account{Name: "First"})
	stale := *a
	if err := e.store.UpdateAccount(ctx(t), a); err != nil {
		t.Fatalf("UpdateAccount: %v", err)
	}
	tests := []struct {
		name string
		op   func() error
	}{
		{"stale rev", func() error { s := stale; return e.store.UpdateAccount(ctx(t), &s) }},
		{"no rev", func() error { s := *a; s.Rev = ""; return e.store.UpdateAccount(ctx(t), &s) }},
		{"duplicate id", func() error {
			return e.store.CreateAccount(ctx(t), &porting.Account{ID: a.ID, Name: "Second"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantKind(t, tt.op(), porting.KindConflict) })
	}
	got, err := e.store.GetAccount(ctx(t), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "First" || got.Rev != a.Rev {
		t.Errorf("account changed by failed writes: %+v", got)
	}
}

func TestGetAccountNotFound(t *testing.T) {
	e := newEnv(t)
	deleted := newID(t)
	e.putRaw(t, "accounts", deleted, map[string]any{"pvt_type": "account", "name": "Gone", "pvt_deleted": true})
	other := newID(t)
	e.putRaw(t, "accounts", other, map[string]any{"pvt_type": "limits"})
	tests := []struct{ name, id string }{
		{"unknown", newID(t)},
		{"empty", ""},
		{"soft-deleted", deleted},
		{"not an account", other},
		{"design doc", "_design/accounts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.store.GetAccount(ctx(t), tt.id)
			wantKind(t, err, porting.KindNotFound)
		})
	}
	t.Run("update unknown", func(t *testing.T) {
		err := e.store.UpdateAccount(ctx(t), &porting.Account{ID: newID(t), Rev: "1-0123456789abcdef0123456789abcdef", Name: "x"})
		if !porting.IsKind(err, porting.KindConflict) && !porting.IsKind(err, porting.KindNotFound) {
			t.Errorf("UpdateAccount of unknown id: %v, want conflict or not found", err)
		}
	})
}

func TestAccountByAPIKey(t *testing.T) {
	e := newEnv(t)
	a := e.createAccount(t, &porting.Account{Name: "Keyed", APIKey: "k-" + newID(t)})
	e.createAccount(t, &porting.Account{Name: "Other", APIKey: "k-" + newID(t)})
	e.putRaw(t, "accounts", newID(t), map[string]any{
		"pvt_type": "account", "name": "Deleted", "pvt_api_key": "k-deleted", "pvt_deleted": true,
	})
	tests := []struct {
		name, key string
		wantID    string // "" = not found
	}{
		{"found", a.APIKey, a.ID},
		{"unknown", "k-" + newID(t), ""},
		{"empty", "", ""},
		{"deleted account", "k-deleted", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.store.AccountByAPIKey(ctx(t), tt.key)
			if tt.wantID == "" {
				wantKind(t, err, porting.KindNotFound)
				return
			}
			if err != nil {
				t.Fatalf("AccountByAPIKey: %v", err)
			}
			if got.ID != tt.wantID || got.Rev == "" {
				t.Errorf("got %s rev %q, want %s", got.ID, got.Rev, tt.wantID)
			}
		})
	}
}

// The tree:
//
//	root ─┬─ beta ── gamma ── delta
//	      ├─ alpha
//	      └─ (deleted child)
func TestChildrenAndDescendants(t *testing.T) {
	e := newEnv(t)
	root := e.createAccount(t, &porting.Account{Name: "root"})
	beta := e.createAccount(t, &porting.Account{Name: "beta", Tree: []string{root.ID}})
	e.createAccount(t, &porting.Account{Name: "alpha", Tree: []string{root.ID}})
	gamma := e.createAccount(t, &porting.Account{Name: "gamma", Tree: []string{root.ID, beta.ID}})
	delta := e.createAccount(t, &porting.Account{Name: "delta", Tree: []string{root.ID, beta.ID, gamma.ID}})
	e.putRaw(t, "accounts", newID(t), map[string]any{
		"pvt_type": "account", "name": "aaa deleted", "pvt_tree": []string{root.ID}, "pvt_deleted": true,
	})
	// A sibling tree whose id sorts right after root's must not leak in.
	other := e.createAccount(t, &porting.Account{ID: root.ID + "0", Name: "other"})
	e.createAccount(t, &porting.Account{Name: "foreign", Tree: []string{other.ID}})

	tests := []struct {
		name      string
		of        *porting.Account
		children  []string
		descended []string
	}{
		{"root", root, []string{"alpha", "beta"}, []string{"alpha", "beta", "delta", "gamma"}},
		{"middle", beta, []string{"gamma"}, []string{"delta", "gamma"}},
		{"deep", gamma, []string{"delta"}, []string{"delta"}},
		{"leaf", delta, []string{}, []string{}},
		{"unknown", &porting.Account{ID: newID(t)}, []string{}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kids, err := e.store.ChildAccounts(ctx(t), tt.of.ID)
			if err != nil {
				t.Fatalf("ChildAccounts: %v", err)
			}
			if diff := cmp.Diff(tt.children, names(kids)); diff != "" {
				t.Errorf("children (-want +got):\n%s", diff)
			}
			desc, err := e.store.DescendantAccounts(ctx(t), tt.of.ID)
			if err != nil {
				t.Fatalf("DescendantAccounts: %v", err)
			}
			if diff := cmp.Diff(tt.descended, names(desc)); diff != "" {
				t.Errorf("descendants (-want +got):\n%s", diff)
			}
			for _, a := range desc {
				if a.Rev == "" || !a.HasAncestor(tt.of.ID) {
					t.Errorf("descendant %s: rev %q tree %v", a.Name, a.Rev, a.Tree)
				}
			}
		})
	}
}

func TestMasterAccount(t *testing.T) {
	e := newEnv(t)
	_, err := e.store.MasterAccount(ctx(t))
	wantKind(t, err, porting.KindNotFound)

	e.createAccount(t, &porting.Account{Name: "newer", SuperDuperAdmin: true, Created: 200})
	e.createAccount(t, &porting.Account{ID: "ffff" + newID(t)[4:], Name: "tie high id", SuperDuperAdmin: true, Created: 100})
	e.createAccount(t, &porting.Account{ID: "0000" + newID(t)[4:], Name: "oldest", SuperDuperAdmin: true, Created: 100})
	e.createAccount(t, &porting.Account{Name: "not root", SuperDuperAdmin: true, Created: 1, Tree: []string{newID(t)}})
	e.createAccount(t, &porting.Account{Name: "no admin", Created: 1})

	got, err := e.store.MasterAccount(ctx(t))
	if err != nil {
		t.Fatalf("MasterAccount: %v", err)
	}
	if got.Name != "oldest" || !got.SuperDuperAdmin || got.Rev == "" {
		t.Errorf("MasterAccount = %+v, want the oldest root super-duper admin", got)
	}
}

// An account written by Kazoo carries members portreqd does not model; a
// read-modify-write through the store must keep them all.
func TestAccountUnknownFieldsSurvive(t *testing.T) {
	e := newEnv(t)
	id := newID(t)
	kazoo := map[string]any{
		"_id":                  id,
		"pvt_type":             "account",
		"name":                 "Kazoo Made",
		"realm":                "kazoo.example.com",
		"timezone":             "America/New_York",
		"language":             "en-us",
		"caller_id":            map[string]any{"external": map[string]any{"number": "+12025550100"}},
		"pvt_enabled":          true,
		"pvt_api_key":          "kazoo-" + id,
		"pvt_tree":             []string{},
		"pvt_account_id":       id,
		"pvt_account_db":       porting.AccountDB(id),
		"pvt_created":          63800000000,
		"pvt_modified":         63800000000,
		"pvt_vsn":              "1",
		"pvt_superduper_admin": true,
		"notifications":        map[string]any{"low_balance": map[string]any{"enabled": false}},
	}
	e.putRaw(t, "accounts", id, kazoo)
	before := e.rawDoc(t, "accounts", id)

	a, err := e.store.GetAccount(ctx(t), id)
	if err != nil {
		t.Fatalf("GetAccount: %v", err)
	}
	var realm string
	if err := json.Unmarshal(a.Other["realm"], &realm); err != nil || realm != "kazoo.example.com" {
		t.Errorf("Other[realm] = %s (%v)", a.Other["realm"], err)
	}
	a.Name = "Renamed"
	a.Modified = 63800000999
	if err := e.store.UpdateAccount(ctx(t), a); err != nil {
		t.Fatalf("UpdateAccount: %v", err)
	}

	after := e.rawDoc(t, "accounts", id)
	want := map[string]any{}
	for k, v := range before {
		want[k] = v
	}
	want["name"] = "Renamed"
	want["pvt_modified"] = float64(63800000999)
	ignoreRev := cmpopts.IgnoreMapEntries(func(k string, _ any) bool { return k == "_rev" })
	if diff := cmp.Diff(want, after, ignoreRev); diff != "" {
		t.Errorf("stored document after update (-want +got):\n%s", diff)
	}
	if after["_rev"] != a.Rev {
		t.Errorf("stored _rev %v, store said %q", after["_rev"], a.Rev)
	}
}
