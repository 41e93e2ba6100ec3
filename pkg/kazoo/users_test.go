package kazoo_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/engine/bolt"
	"github.com/portreqd/portreqd/pkg/engine/couch"
	"github.com/portreqd/portreqd/pkg/kazoo"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

// An account's admin addresses come from Kazoo's user documents in its
// database, as teletype finds them: admins only, with an address, neither
// disabled nor deleted; portreqd's view is installed in the account's
// database on first use, at one revision for its content.
func TestAccountAdminEmails(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		eng, err := bolt.Open(filepath.Join(t.TempDir(), "kazoo.db"), bolt.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		checkAdminEmails(t, open(t, eng, ""), func(db string) string { return designRevIn(t, eng, db) }, nil)
	})
	t.Run("couchdb", func(t *testing.T) {
		url := couchdbtest.URL(t)
		prefix := fmt.Sprintf("%susers%d_", couchdbtest.Prefix(), seq.Add(1))
		t.Cleanup(func() { dropPrefix(t, url, prefix) })
		eng, err := couch.Open(ctx(t), couch.Options{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		checkAdminEmails(t, open(t, eng, prefix), func(db string) string { return designRevIn(t, eng, prefix+db) }, func() *kazoo.Store {
			eng, err := couch.Open(ctx(t), couch.Options{URL: url})
			if err != nil {
				t.Fatal(err)
			}
			return open(t, eng, prefix)
		})
	})
}

// checkAdminEmails runs the check on s; rev reads the revision of the
// design document; reopen, when set, opens another store on the same
// databases (another replica or site).
func checkAdminEmails(t *testing.T, s *kazoo.Store, rev func(db string) string, reopen func() *kazoo.Store) {
	t.Helper()
	const account = "4b8c1f0e2d3a4b5c6d7e8f9012345678"
	db := porting.AccountDB(account)
	user := func(id string, m map[string]any) *porting.RawDoc {
		doc := map[string]any{"_id": id, "pvt_type": "user", "first_name": "F", "last_name": id,
			"username": id, "pvt_account_id": account, "pvt_created": 63900000000}
		for k, v := range m {
			doc[k] = v
		}
		b, _ := json.Marshal(doc)
		return &porting.RawDoc{ID: id, Body: b}
	}
	for _, d := range []*porting.RawDoc{
		user("admin", map[string]any{"priv_level": "admin", "email": "admin@customer.test"}),
		user("boss", map[string]any{"priv_level": "admin", "email": "The Boss <boss@customer.test>", "enabled": true}),
		user("again", map[string]any{"priv_level": "admin", "email": "admin@customer.test"}),
		user("clerk", map[string]any{"priv_level": "user", "email": "clerk@customer.test"}),
		user("mute", map[string]any{"priv_level": "admin"}),
		user("off", map[string]any{"priv_level": "admin", "email": "off@customer.test", "enabled": false}),
		user("gone", map[string]any{"priv_level": "admin", "email": "gone@customer.test", "pvt_deleted": true}),
		user("junk", map[string]any{"priv_level": "admin", "email": "not an address"}),
		{ID: "device1", Body: []byte(`{"_id":"device1","pvt_type":"device","priv_level":"admin","email":"device@customer.test"}`)},
	} {
		if err := s.RawPut(ctx(t), db, d, nil); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"admin@customer.test", "boss@customer.test"}
	got, err := s.AccountAdminEmails(ctx(t), account)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("admin emails (-want +got):\n%s", diff)
	}
	installed := rev(db)
	if !strings.HasPrefix(installed, "1-00000000") {
		t.Errorf("design document installed at %s, want the content's low revision", installed)
	}

	none, err := s.AccountAdminEmails(ctx(t), "00000000000000000000000000000abc")
	if err != nil || len(none) != 0 {
		t.Errorf("an account without a database: %v, %v; want none and no error", none, err)
	}

	if reopen == nil {
		return
	}
	other := reopen()
	if got, err := other.AccountAdminEmails(ctx(t), account); err != nil || !cmp.Equal(want, got) {
		t.Errorf("another replica: %v, %v; want %v", got, err, want)
	}
	if r := rev(db); r != installed {
		t.Errorf("another replica left the design document at %s, want %s untouched", r, installed)
	}
}
