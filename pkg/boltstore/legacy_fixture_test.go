package boltstore_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/portreqd/portreqd/pkg/boltstore"
	"github.com/portreqd/portreqd/pkg/porting"
)

// TestWriteLegacyFixture writes the data file of this store that the
// engine's upgrade (bolt.UpgradeLegacy) is tested on:
// pkg/engine/bolt/testdata/legacy-v<format>.db. It is a generator, not a
// test; it runs only when asked, once this store's format changes (or the
// fixture must hold more):
//
//	PORTREQD_WRITE_LEGACY_FIXTURE=1 go test -count=1 -run TestWriteLegacyFixture ./pkg/boltstore/
//
// Every input is fixed (ids, timestamps, bodies), and revisions hash the
// previous revision and the body, so a rerun writes the same documents
// with the same revisions: the expectations in pkg/engine/bolt's
// legacy_test.go stay true.
func TestWriteLegacyFixture(t *testing.T) {
	if os.Getenv("PORTREQD_WRITE_LEGACY_FIXTURE") != "1" {
		return // a generator run by hand (see above), not part of the suite
	}
	c := context.Background()
	dir := t.TempDir()
	s, err := boltstore.Open(dir, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	const (
		master   = "6b71cb17a3e2c4d1f0a9b8c7d6e50001"
		reseller = "6b71cb17a3e2c4d1f0a9b8c7d6e50002"
		customer = "6b71cb17a3e2c4d1f0a9b8c7d6e50003"
		t0       = int64(63900000000) // Kazoo timestamps: Gregorian seconds
	)

	// Accounts: a root, a reseller under it, a customer under both
	// (updated once: revision 2).
	must(s.CreateAccount(c, &porting.Account{ID: master, Name: "Master", SuperDuperAdmin: true, PortAuthority: true,
		APIKey: "key-master", Created: t0, Modified: t0}))
	must(s.CreateAccount(c, &porting.Account{ID: reseller, Name: "Reseller One", Tree: []string{master},
		APIKey: "key-reseller", Created: t0 + 10, Modified: t0 + 10}))
	cust := &porting.Account{ID: customer, Name: "Customer", Tree: []string{master, reseller},
		APIKey: "key-customer", Created: t0 + 20, Modified: t0 + 20}
	must(s.CreateAccount(c, cust))
	cust.Name, cust.Modified = "Customer Café", t0+30
	must(s.UpdateAccount(c, cust))

	request := func(id string, state porting.State, numbers ...string) *porting.Request {
		r := &porting.Request{ID: id, Public: porting.Fields{}, Private: porting.Fields{}, State: state,
			AccountID: customer, Tree: []string{master, reseller, customer}, Created: t0 + 100, Modified: t0 + 100}
		r.Public.Set("name", "Port "+id)
		nums := map[string]any{}
		for _, n := range numbers {
			nums[n] = map[string]any{}
		}
		r.Public.Set("numbers", nums)
		return r
	}

	// Port requests: one per state of interest.
	must(s.CreateRequest(c, request("6b71cb17a3e2c4d1f0a9b8c7d6e5a001", porting.Unconfirmed, "+12025550110")))

	sub := request("6b71cb17a3e2c4d1f0a9b8c7d6e5a002", porting.Submitted, "+12025550101", "+12025550102")
	must(s.CreateRequest(c, sub))
	rev, err := s.PutAttachment(c, sub.ID, sub.Rev, "bill.pdf", "application/pdf", bytes.NewReader(legacyPattern(100_000)))
	must(err)
	_, err = s.PutAttachment(c, sub.ID, rev, "notes.txt", "text/plain", strings.NewReader("Port on a weekday, please.\n"))
	must(err)

	// Through every state: revision 5.
	done := request("6b71cb17a3e2c4d1f0a9b8c7d6e5a003", porting.Unconfirmed, "+12025550103")
	must(s.CreateRequest(c, done))
	prev := porting.Unconfirmed
	for i, st := range []porting.State{porting.Submitted, porting.Pending, porting.Completed, porting.Completed} {
		done.State, done.Modified = st, t0+200+int64(i)
		if st != prev {
			done.Transitions = append(done.Transitions, porting.Transition{Timestamp: done.Modified, Type: "transition",
				Transition: porting.TransitionState{New: st, Previous: prev}})
			prev = st
		}
		must(s.UpdateRequest(c, done))
	}

	// Soft-deleted as Kazoo deletes requests (pvt_deleted): a live document.
	gone := request("6b71cb17a3e2c4d1f0a9b8c7d6e5a004", porting.Canceled, "+12025550104")
	must(s.CreateRequest(c, gone))
	gone.Deleted, gone.Modified = true, t0+300
	must(s.UpdateRequest(c, gone))

	// A document as migrate copies one from CouchDB, id with "/" and "+".
	must(s.RawPut(c, "port_requests", &porting.RawDoc{ID: "kazoo/import+1",
		Body: []byte(`{"pvt_type":"note","text":"<b> & \"quoted\" é 日本","nested":{"list":[1,2.5,null,true]}}`)},
		func(string) (io.ReadCloser, error) { return nil, fmt.Errorf("no attachments") }))

	// Claims of the submitted request's numbers; one claim released
	// (a tombstone).
	taken, err := s.CreateClaims(c, []*porting.Claim{
		{Number: "+12025550101", RequestID: sub.ID, AccountID: customer, Created: t0 + 400},
		{Number: "+12025550102", RequestID: sub.ID, AccountID: customer, Created: t0 + 400},
		{Number: "+12025550199", RequestID: sub.ID, AccountID: customer, Created: t0 + 400},
	})
	must(err)
	if len(taken) != 0 {
		t.Fatalf("claims taken: %v", taken)
	}
	claims, err := s.GetClaims(c, []string{"+12025550199"})
	must(err)
	must(s.DeleteClaims(c, []*porting.Claim{claims["+12025550199"]}))

	// Number databases (names with "/" and "+"): the completed request's
	// number in service; a number put in service and taken back (a
	// tombstone, alone in its database).
	must(s.CreateNumber(c, &porting.PhoneNumber{Number: "+12025550103", State: porting.NumberInService,
		AssignedTo: customer, PortedIn: true, PortID: done.ID, Created: t0 + 500, Modified: t0 + 500}))
	back := &porting.PhoneNumber{Number: "+13125550100", State: porting.NumberInService, AssignedTo: customer,
		PortedIn: true, PortID: done.ID, Created: t0 + 500, Modified: t0 + 500}
	must(s.CreateNumber(c, back))
	must(s.DeleteNumber(c, back))

	// A ledger database (account/xx/xx/…-YYYYMM) written with RawPutMany.
	must(s.RawPutMany(c, porting.AccountDB(customer)+"-202601", []*porting.RawDoc{
		{ID: "txn-1", Body: []byte(`{"pvt_type":"debit","pvt_amount":10000,"pvt_reason":"number_activation"}`)},
		{ID: "txn-2", Body: []byte(`{"pvt_type":"debit","pvt_amount":20000,"pvt_reason":"number_activation"}`)},
	}))
	must(s.Close())

	out := filepath.Join("..", "engine", "bolt", "testdata", fmt.Sprintf("legacy-v%d.db", boltstore.FormatVersion))
	must(os.MkdirAll(filepath.Dir(out), 0o755))
	must(compactTo(filepath.Join(dir, boltstore.FileName), out))
	t.Logf("wrote %s", out)
}

// compactTo writes a compacted copy of the bbolt file src to dst, cut to
// the pages in use: bbolt sizes a file in powers of two, and the fixture is
// committed.
func compactTo(src, dst string) error {
	in, err := bolt.Open(src, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer in.Close()
	_ = os.Remove(dst)
	out, err := bolt.Open(dst, 0o644, nil)
	if err != nil {
		return err
	}
	if err := bolt.Compact(out, in, 1<<20); err != nil {
		_ = out.Close()
		return err
	}
	var size int64
	err = out.View(func(tx *bolt.Tx) error {
		size = tx.Size()
		for err := range tx.Check() {
			return err
		}
		return nil
	})
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Truncate(dst, size)
}

// legacyPattern is the binary attachment's body: byte i is i mod 251, so it
// is no valid UTF-8 and a chunk out of place shows.
func legacyPattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}
