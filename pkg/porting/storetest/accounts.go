package storetest

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/portreqd/portreqd/pkg/porting"
)

var accountTests = []test{
	{"AccountCreateGetUpdate", testAccountCreateGetUpdate},
	{"AccountConflicts", testAccountConflicts},
	{"GetAccountNotFound", testGetAccountNotFound},
	{"AccountByAPIKey", testAccountByAPIKey},
	{"ChildrenAndDescendants", testChildrenAndDescendants},
	{"MasterAccount", testMasterAccount},
	{"AccountUnknownFieldsSurvive", testAccountUnknownFieldsSurvive},
	{"AccountAttachment", testAccountAttachment},
}

// testAccountAttachment stores an LOA logo on an account, checks it survives
// an account update, and that a stale revision is a conflict.
func testAccountAttachment(t *testing.T, h *harness) {
	a := h.createAccount(t, &porting.Account{Name: "Logo", Tree: []string{}, APIKey: "key-" + newID(t),
		Created: 63900000000, Modified: 63900000000})
	logo := strings.Repeat("\x89PNG logo bytes ", 4000)
	rev, err := h.s.PutAccountAttachment(ctx(t), a.ID, a.Rev, "loa_logo", "image/png", strings.NewReader(logo))
	if err != nil {
		t.Fatalf("PutAccountAttachment: %v", err)
	}
	wantRev(t, "PutAccountAttachment", rev, 2)
	if _, err := h.s.PutAccountAttachment(ctx(t), a.ID, a.Rev, "loa_logo", "image/png", strings.NewReader("x")); !porting.IsKind(err, porting.KindConflict) {
		t.Errorf("stale PutAccountAttachment: %v, want KindConflict", err)
	}
	got, err := h.s.GetAccount(ctx(t), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	got.Name = "Logo Renamed"
	if err := h.s.UpdateAccount(ctx(t), got); err != nil {
		t.Fatalf("UpdateAccount: %v", err)
	}
	att, err := h.s.GetAccountAttachment(ctx(t), a.ID, "loa_logo")
	if err != nil {
		t.Fatalf("GetAccountAttachment after update: %v", err)
	}
	body, _ := io.ReadAll(att.Body)
	att.Body.Close()
	if string(body) != logo || att.ContentType != "image/png" {
		t.Errorf("logo after update: %d bytes, %q", len(body), att.ContentType)
	}
	if _, err := h.s.GetAccountAttachment(ctx(t), a.ID, "nope"); !porting.IsKind(err, porting.KindNotFound) {
		t.Errorf("unknown attachment: %v, want KindNotFound", err)
	}
}

// createAccount stores a via the store and fails the test on error.
func (h *harness) createAccount(t *testing.T, a *porting.Account) *porting.Account {
	t.Helper()
	if a.ID == "" {
		a.ID = newID(t)
	}
	if err := h.s.CreateAccount(ctx(t), a); err != nil {
		t.Fatalf("CreateAccount %q: %v", a.Name, err)
	}
	return a
}

// names lists account names, for readable diffs.
func names(accts []*porting.Account) []string {
	out := []string{}
	for _, a := range accts {
		out = append(out, a.Name)
	}
	return out
}

func testAccountCreateGetUpdate(t *testing.T, h *harness) {
	a := h.createAccount(t, &porting.Account{
		Name: "Acme", Tree: []string{newID(t)}, APIKey: "key-" + newID(t),
		PortAuthority: true, Created: 63900000000, Modified: 63900000001,
	})
	wantRev(t, "CreateAccount", a.Rev, 1)
	got, err := h.s.GetAccount(ctx(t), a.ID)
	if err != nil {
		t.Fatalf("GetAccount: %v", err)
	}
	ignoreOther := cmpopts.IgnoreFields(porting.Account{}, "Other")
	if diff := cmp.Diff(a, got, ignoreOther); diff != "" {
		t.Errorf("GetAccount (-want +got):\n%s", diff)
	}

	oldKey := got.APIKey
	got.Name, got.APIKey = "Acme Renamed", "key-"+newID(t)
	if err := h.s.UpdateAccount(ctx(t), got); err != nil {
		t.Fatalf("UpdateAccount: %v", err)
	}
	wantRev(t, "UpdateAccount", got.Rev, 2)
	again, err := h.s.GetAccount(ctx(t), a.ID)
	if err != nil {
		t.Fatalf("GetAccount: %v", err)
	}
	if diff := cmp.Diff(got, again, ignoreOther); diff != "" {
		t.Errorf("after update (-want +got):\n%s", diff)
	}
	// The API key index follows the update.
	_, err = h.s.AccountByAPIKey(ctx(t), oldKey)
	wantKind(t, err, porting.KindNotFound)
	if byKey, err := h.s.AccountByAPIKey(ctx(t), got.APIKey); err != nil || byKey.ID != a.ID {
		t.Errorf("AccountByAPIKey(new key) = %v, %v", byKey, err)
	}
	if h.raw == nil {
		return
	}
	raw := h.rawDoc(t, "accounts", a.ID)
	for k, want := range map[string]any{"_id": a.ID, "pvt_type": "account",
		"name": "Acme Renamed", "pvt_account_id": a.ID, "pvt_api_key": got.APIKey} {
		if raw[k] != want {
			t.Errorf("stored %s = %v, want %v", k, raw[k], want)
		}
	}
}

func testAccountConflicts(t *testing.T, h *harness) {
	a := h.createAccount(t, &porting.Account{Name: "First"})
	stale := *a
	if err := h.s.UpdateAccount(ctx(t), a); err != nil {
		t.Fatalf("UpdateAccount: %v", err)
	}
	tests := []struct {
		name string
		op   func() error
	}{
		{"stale rev", func() error { s := stale; return h.s.UpdateAccount(ctx(t), &s) }},
		{"no rev", func() error { s := *a; s.Rev = ""; return h.s.UpdateAccount(ctx(t), &s) }},
		{"duplicate id", func() error {
			return h.s.CreateAccount(ctx(t), &porting.Account{ID: a.ID, Name: "Second"})
		}},
		// No "update of an unknown id": see testRequestConflictsAndNotFound.
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantKind(t, tt.op(), porting.KindConflict) })
	}
	got, err := h.s.GetAccount(ctx(t), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "First" || got.Rev != a.Rev {
		t.Errorf("account changed by failed writes: %+v", got)
	}
}

func testGetAccountNotFound(t *testing.T, h *harness) {
	tests := []struct{ name, id string }{
		{"unknown", newID(t)},
		{"empty", ""},
		{"design doc", "_design/accounts"},
	}
	if h.raw != nil {
		deleted := newID(t)
		h.putRaw(t, "accounts", deleted, map[string]any{"pvt_type": "account", "name": "Gone", "pvt_deleted": true})
		other := newID(t)
		h.putRaw(t, "accounts", other, map[string]any{"pvt_type": "limits"})
		tests = append(tests, struct{ name, id string }{"soft-deleted", deleted},
			struct{ name, id string }{"not an account", other})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.s.GetAccount(ctx(t), tt.id)
			wantKind(t, err, porting.KindNotFound)
		})
	}
}

func testAccountByAPIKey(t *testing.T, h *harness) {
	a := h.createAccount(t, &porting.Account{Name: "Keyed", APIKey: "k-" + newID(t)})
	h.createAccount(t, &porting.Account{Name: "Other", APIKey: a.APIKey + "0"}) // a key extending a's
	h.createAccount(t, &porting.Account{Name: "Keyless"})
	tests := []struct {
		name, key string
		wantID    string // "" = not found
	}{
		{"found", a.APIKey, a.ID},
		{"unknown", "k-" + newID(t), ""},
		{"prefix of a key", a.APIKey[:10], ""},
		{"empty", "", ""},
	}
	if h.raw != nil {
		h.putRaw(t, "accounts", newID(t), map[string]any{
			"pvt_type": "account", "name": "Deleted", "pvt_api_key": "k-deleted", "pvt_deleted": true,
		})
		tests = append(tests, struct {
			name, key string
			wantID    string
		}{"deleted account", "k-deleted", ""})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.s.AccountByAPIKey(ctx(t), tt.key)
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
//	      ├─ Zulu (upper case sorts first, by bytes)
//	      └─ (deleted child)
func testChildrenAndDescendants(t *testing.T, h *harness) {
	root := h.createAccount(t, &porting.Account{Name: "root"})
	beta := h.createAccount(t, &porting.Account{Name: "beta", Tree: []string{root.ID}})
	h.createAccount(t, &porting.Account{Name: "alpha", Tree: []string{root.ID}})
	h.createAccount(t, &porting.Account{Name: "Zulu", Tree: []string{root.ID}})
	gamma := h.createAccount(t, &porting.Account{Name: "gamma", Tree: []string{root.ID, beta.ID}})
	delta := h.createAccount(t, &porting.Account{Name: "delta", Tree: []string{root.ID, beta.ID, gamma.ID}})
	if h.raw != nil {
		h.putRaw(t, "accounts", newID(t), map[string]any{
			"pvt_type": "account", "name": "aaa deleted", "pvt_tree": []string{root.ID}, "pvt_deleted": true,
		})
	}
	// A sibling tree whose id sorts right after root's must not leak in.
	other := h.createAccount(t, &porting.Account{ID: root.ID + "0", Name: "other"})
	h.createAccount(t, &porting.Account{Name: "foreign", Tree: []string{other.ID}})

	tests := []struct {
		name      string
		of        *porting.Account
		children  []string
		descended []string
	}{
		{"root", root, []string{"Zulu", "alpha", "beta"}, []string{"Zulu", "alpha", "beta", "delta", "gamma"}},
		{"middle", beta, []string{"gamma"}, []string{"delta", "gamma"}},
		{"deep", gamma, []string{"delta"}, []string{"delta"}},
		{"leaf", delta, []string{}, []string{}},
		{"unknown", &porting.Account{ID: newID(t)}, []string{}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kids, err := h.s.ChildAccounts(ctx(t), tt.of.ID)
			if err != nil {
				t.Fatalf("ChildAccounts: %v", err)
			}
			if diff := cmp.Diff(tt.children, names(kids)); diff != "" {
				t.Errorf("children (-want +got):\n%s", diff)
			}
			desc, err := h.s.DescendantAccounts(ctx(t), tt.of.ID)
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
	t.Run("rename reorders", func(t *testing.T) {
		beta.Name = "0 first"
		if err := h.s.UpdateAccount(ctx(t), beta); err != nil {
			t.Fatalf("UpdateAccount: %v", err)
		}
		kids, err := h.s.ChildAccounts(ctx(t), root.ID)
		if err != nil {
			t.Fatalf("ChildAccounts: %v", err)
		}
		if diff := cmp.Diff([]string{"0 first", "Zulu", "alpha"}, names(kids)); diff != "" {
			t.Errorf("children (-want +got):\n%s", diff)
		}
	})
}

func testMasterAccount(t *testing.T, h *harness) {
	_, err := h.s.MasterAccount(ctx(t))
	wantKind(t, err, porting.KindNotFound)

	h.createAccount(t, &porting.Account{Name: "newer", SuperDuperAdmin: true, Created: 200})
	h.createAccount(t, &porting.Account{ID: "ffff" + newID(t)[4:], Name: "tie high id", SuperDuperAdmin: true, Created: 100})
	h.createAccount(t, &porting.Account{ID: "0000" + newID(t)[4:], Name: "oldest", SuperDuperAdmin: true, Created: 100})
	h.createAccount(t, &porting.Account{Name: "not root", SuperDuperAdmin: true, Created: 1, Tree: []string{newID(t)}})
	h.createAccount(t, &porting.Account{Name: "no admin", Created: 1})

	got, err := h.s.MasterAccount(ctx(t))
	if err != nil {
		t.Fatalf("MasterAccount: %v", err)
	}
	if got.Name != "oldest" || !got.SuperDuperAdmin || got.Rev == "" {
		t.Errorf("MasterAccount = %+v, want the oldest root super-duper admin", got)
	}
}

// An account written by Kazoo carries members portreqd does not model; a
// read-modify-write through the store must keep them all.
func testAccountUnknownFieldsSurvive(t *testing.T, h *harness) {
	h.needRaw(t)
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
	h.putRaw(t, "accounts", id, kazoo)
	before := h.rawDoc(t, "accounts", id)

	a, err := h.s.GetAccount(ctx(t), id)
	if err != nil {
		t.Fatalf("GetAccount: %v", err)
	}
	var realm string
	if err := json.Unmarshal(a.Other["realm"], &realm); err != nil || realm != "kazoo.example.com" {
		t.Errorf("Other[realm] = %s (%v)", a.Other["realm"], err)
	}
	// Kazoo's documents are in the views like portreqd's.
	if m, err := h.s.MasterAccount(ctx(t)); err != nil || m.ID != id {
		t.Errorf("MasterAccount = %v, %v; want Kazoo's account", m, err)
	}
	if k, err := h.s.AccountByAPIKey(ctx(t), "kazoo-"+id); err != nil || k.ID != id {
		t.Errorf("AccountByAPIKey = %v, %v; want Kazoo's account", k, err)
	}
	a.Name = "Renamed"
	a.Modified = 63800000999
	if err := h.s.UpdateAccount(ctx(t), a); err != nil {
		t.Fatalf("UpdateAccount: %v", err)
	}

	after := h.rawDoc(t, "accounts", id)
	want := map[string]any{}
	for k, v := range before {
		want[k] = v
	}
	want["name"] = "Renamed"
	want["pvt_modified"] = float64(63800000999)
	if diff := cmp.Diff(want, after); diff != "" {
		t.Errorf("stored document after update (-want +got):\n%s", diff)
	}
	if got, err := h.s.GetAccount(ctx(t), id); err != nil || got.Rev != a.Rev {
		t.Errorf("GetAccount = %v, %v; want rev %s", got, err, a.Rev)
	}
}
