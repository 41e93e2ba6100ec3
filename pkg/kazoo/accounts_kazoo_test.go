package kazoo_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/porting"
)

// accountCopies reads an account's two copies as stored, without _rev:
// the one in `accounts` and the one in its account database.
func (s site) accountCopies(t *testing.T, id string) (accounts, own map[string]any) {
	t.Helper()
	accounts = s.rawDoc(t, "accounts", id)
	own = s.rawDoc(t, porting.AccountDB(id), id)
	delete(accounts, "_rev")
	delete(own, "_rev")
	return accounts, own
}

// Accounts live where Kazoo keeps them: the account's own database (what
// Kazoo's crossbar reads) and a copy in `accounts`, the same document,
// each at its own revision, on create and on every update.
func TestAccountsInAccountDatabases(t *testing.T) {
	sites(t, func(t *testing.T, s site) {
		st := s.replica(t)
		parent := porting.RandomID()
		a := &porting.Account{ID: porting.RandomID(), Name: "Acme", Tree: []string{parent}, APIKey: porting.NewAPIKey(),
			Created: 63900000000, Modified: 63900000000, Other: porting.Fields{}}
		a.Other.Set("realm", "acme.sip.example.com")
		a.Other.Set("pvt_enabled", true)
		if err := st.CreateAccount(ctx(t), a); err != nil {
			t.Fatal(err)
		}
		accounts, own := s.accountCopies(t, a.ID)
		if diff := cmp.Diff(accounts, own); diff != "" {
			t.Errorf("after create, account database copy (-accounts +own):\n%s", diff)
		}
		if own["pvt_account_db"] != porting.EncodedDB(porting.AccountDB(a.ID)) || own["realm"] != "acme.sip.example.com" || own["pvt_type"] != "account" {
			t.Errorf("account database copy %v", own)
		}

		a.Name = "Acme Renamed"
		a.Modified = 63900000100
		if err := st.UpdateAccount(ctx(t), a); err != nil {
			t.Fatal(err)
		}
		accounts, own = s.accountCopies(t, a.ID)
		if diff := cmp.Diff(accounts, own); diff != "" || own["name"] != "Acme Renamed" {
			t.Errorf("after update, account database copy (-accounts +own):\n%s", diff)
		}
		if s.kazoo {
			// Kazoo's views of the account database are there to find it.
			s.rawDoc(t, porting.AccountDB(a.ID), "_design/account")
		}
	})
}

// An account an earlier portreqd wrote to `accounts` only gets its account
// database at the next start.
func TestAccountDatabaseBackfilled(t *testing.T) {
	sites(t, func(t *testing.T, s site) {
		s.replica(t)
		id := porting.RandomID()
		s.putRaw(t, "accounts", id, map[string]any{"_id": id, "pvt_type": "account", "name": "Old",
			"pvt_tree": []string{}, "pvt_api_key": porting.NewAPIKey(), "pvt_created": 63900000000, "pvt_modified": 63900000000})
		gone := porting.RandomID()
		s.putRaw(t, "accounts", gone, map[string]any{"_id": gone, "pvt_type": "account", "name": "Gone", "pvt_deleted": true})

		s.replica(t)

		accounts, own := s.accountCopies(t, id)
		if diff := cmp.Diff(accounts, own); diff != "" {
			t.Errorf("backfilled copy (-accounts +own):\n%s", diff)
		}
		if _, err := s.raw.Get(ctx(t), s.prefix+porting.AccountDB(gone), gone, engine.GetOptions{}); err == nil {
			t.Error("a soft-deleted account got an account database")
		}
	})
}

// A port Kazoo 4.3 completed has emptied numbers and kept them in
// pvt_ported_numbers (knm_port_request clear_numbers_from_port): the
// account's numbers in service still include them.
func TestKazooPortedNumbersListed(t *testing.T) {
	sites(t, func(t *testing.T, s site) {
		st := s.replica(t)
		acct, id := porting.RandomID(), porting.RandomID()
		s.putRaw(t, "port_requests", id, map[string]any{"_id": id, "pvt_type": "port_request", "pvt_port_state": "completed",
			"pvt_account_id": acct, "pvt_tree": []string{}, "name": "done by Kazoo", "numbers": map[string]any{},
			"pvt_ported_numbers": map[string]any{"+14155550142": map[string]any{}}, "pvt_modified": 63900000000})
		db := porting.NumberDB("+14155550142")
		if err := s.raw.CreateDB(ctx(t), s.prefix+db); err != nil {
			t.Fatal(err)
		}
		s.putRaw(t, db, "+14155550142", map[string]any{"_id": "+14155550142", "pvt_type": "number", "pvt_state": "in_service",
			"pvt_assigned_to": acct, "pvt_ported_in": true, "pvt_db_name": "numbers%2F%2B1415", "pvt_module_name": "knm_local"})
		nums, err := st.AccountNumbers(ctx(t), acct)
		if err != nil || len(nums) != 1 || nums[0].Number != "+14155550142" {
			t.Errorf("AccountNumbers = %v, %v; want +14155550142", nums, err)
		}
	})
}

// Kazoo 4.3's whitelabel port.authority, read from the account's database:
// a raw id or an account database name in either form; nothing for a
// missing database or document, or a value that names no account.
func TestWhitelabelPortAuthority(t *testing.T) {
	sites(t, func(t *testing.T, s site) {
		st := s.replica(t)
		acct, auth := porting.RandomID(), porting.RandomID()
		if got, err := st.WhitelabelPortAuthority(ctx(t), acct); err != nil || got != "" {
			t.Errorf("no account database: %q, %v", got, err)
		}
		db := porting.AccountDB(acct)
		if err := s.raw.CreateDB(ctx(t), s.prefix+db); err != nil {
			t.Fatal(err)
		}
		rev := ""
		for _, c := range []struct{ value, want string }{
			{auth, auth},
			{porting.EncodedDB(porting.AccountDB(auth)), auth},
			{porting.AccountDB(auth), auth},
			{"porting@reseller.example", ""},
		} {
			doc := map[string]any{"port": map[string]any{"authority": c.value}}
			if rev != "" {
				doc["_rev"] = rev
			}
			rev = s.putRaw(t, db, "whitelabel", doc)
			if got, err := st.WhitelabelPortAuthority(ctx(t), acct); err != nil || got != c.want {
				t.Errorf("port.authority %q: %q, %v; want %q", c.value, got, err, c.want)
			}
		}
	})
}
