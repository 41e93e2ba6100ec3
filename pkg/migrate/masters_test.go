package migrate_test

import (
	"strings"
	"testing"

	"github.com/portreqd/portreqd/pkg/migrate"
	"github.com/portreqd/portreqd/pkg/porting"
)

// Two stores that each made their master under portreqd's one id merge:
// the source's master (and its key) wins, and the report says so. A
// target whose master is another account is refused before anything is
// written.
func TestMasters(t *testing.T) {
	bootstrap := func(s store, key string) *porting.Account {
		t.Helper()
		m, _, err := porting.NewService(porting.Config{Store: s}).Bootstrap(ctx(t), key)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}

	t.Run("the same master is merged", func(t *testing.T) {
		from, to := openBolt(t), openBolt(t)
		bootstrap(from, "the-source-master-key-0123")
		bootstrap(to, "the-target-master-key-0123")
		rep, err := migrate.Copy(ctx(t), from, to, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "replaced by the source's") {
			t.Errorf("notes %q, want the master's replacement reported", rep.Notes)
		}
		if a, err := to.AccountByAPIKey(ctx(t), "the-source-master-key-0123"); err != nil || a.ID != porting.MasterAccountID {
			t.Errorf("the source's key on the target: %v, %v", a, err)
		}
	})

	t.Run("a second master is refused", func(t *testing.T) {
		from, to := openBolt(t), openBolt(t)
		bootstrap(from, "the-source-master-key-0123")
		kazoos := &porting.Account{ID: "0123456789abcdef0123456789abcdef", Name: "Kazoo's master", APIKey: "kazoo-master-key-0123456789",
			SuperDuperAdmin: true, Created: 63800000000, Modified: 63800000000, Other: porting.Fields{}}
		if err := to.CreateAccount(ctx(t), kazoos); err != nil {
			t.Fatal(err)
		}
		rep, err := migrate.Copy(ctx(t), from, to, nil)
		if err == nil || !strings.Contains(err.Error(), "already has a master account (0123456789abcdef0123456789abcdef)") {
			t.Fatalf("Copy: %v, %v; want the second master refused", rep, err)
		}
		if _, err := to.GetAccount(ctx(t), porting.MasterAccountID); !porting.IsKind(err, porting.KindNotFound) {
			t.Errorf("the source's master reached the target anyway: %v", err)
		}
	})
}
