package migrate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-kivik/kivik/v4/couchdb"
	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/kazoo"
	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
	"github.com/portreqd/portreqd/pkg/migrate"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/porting/storetest"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

// store is what a migration reads and writes, and what serves afterwards.
type store interface {
	porting.Store
	porting.RawStore
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func newID(t *testing.T) string {
	t.Helper()
	return porting.RandomID()
}

func openBolt(t *testing.T) *kazoo.Store {
	t.Helper()
	return kazootest.Embedded(t)
}

var couchSeq atomic.Int64

// openCouch opens the Kazoo store on CouchDB, on databases of a prefix of
// the test's own, destroyed when the test ends (those made on demand too).
func openCouch(t *testing.T) *kazoo.Store {
	t.Helper()
	url := couchdbtest.URL(t)
	prefix := fmt.Sprintf("%smigrate%d_", couchdbtest.Prefix(), couchSeq.Add(1))
	return kazootest.Couch(t, url, prefix)
}

// filled is what fill stored: the databases holding documents and the
// requests with attachments.
type filled struct {
	dbs         []string
	withAtts    string // request carrying the attachments
	attachments int
	update      *porting.Request // a request to change between runs
}

// fill stores, through the store's API, what a portreqd deployment holds:
// an account tree, requests in every state (one deleted, one updated,
// completed ones with transitions), attachments, claims (one released),
// a number in service, a ledger transaction; and, to make the requests
// span several migration batches, bulk documents.
func fill(t *testing.T, s store, bulk int) *filled {
	t.Helper()
	c := ctx(t)
	root := &porting.Account{ID: newID(t), Name: "Root", APIKey: newID(t) + newID(t), SuperDuperAdmin: true,
		Created: 63900000000, Modified: 63900000000, Other: porting.Fields{}}
	root.Other.Set("realm", "root.example")
	child := &porting.Account{ID: newID(t), Name: "Child", Tree: []string{root.ID}, PortAuthority: true,
		Created: 63900000100, Modified: 63900000100, Other: porting.Fields{}}
	grandchild := &porting.Account{ID: newID(t), Name: "Grandchild", Tree: []string{root.ID, child.ID},
		Created: 63900000200, Modified: 63900000200, Other: porting.Fields{}}
	for _, a := range []*porting.Account{root, child, grandchild} {
		if err := s.CreateAccount(c, a); err != nil {
			t.Fatalf("CreateAccount: %v", err)
		}
	}
	grandchild.Name = "Grandchild Inc"
	if err := s.UpdateAccount(c, grandchild); err != nil {
		t.Fatalf("UpdateAccount: %v", err)
	}

	f := &filled{dbs: []string{"accounts", "port_requests", "port_number_claims"}}
	seen := map[string]bool{}
	addDB := func(db string) {
		if !seen[db] {
			seen[db] = true
			f.dbs = append(f.dbs, db)
		}
	}
	for _, a := range []*porting.Account{root, child, grandchild} {
		addDB(porting.AccountDB(a.ID)) // Kazoo's primary copy of the account
	}
	var reqs []*porting.Request
	completedAt := int64(63900864000)
	for i, st := range porting.States {
		owner := []*porting.Account{child, grandchild}[i%2]
		r := &porting.Request{ID: newID(t), Public: porting.Fields{}, Private: porting.Fields{}, State: st,
			AccountID: owner.ID, Tree: append(slices.Clone(owner.Tree), owner.ID),
			Created: 63900000000, Modified: 63900000000 + int64(i)*60}
		n := fmt.Sprintf("+1%d025550%03d", 2+i%3, 100+i)
		r.Public.Set("name", "port "+string(st))
		r.Public.Set("numbers", map[string]any{n: map[string]any{"used_by": "callflow"}})
		r.Public.Set("bill", map[string]any{"name": "Acme", "postal_code": "20500"})
		r.Private.Set("pvt_kazoo_only", i)
		prev := porting.Unconfirmed
		for _, next := range []porting.State{porting.Submitted, st} {
			if next == porting.Unconfirmed || next == prev {
				continue
			}
			ts := r.Modified
			if next == porting.Completed {
				ts = completedAt
			}
			tr := porting.Transition{Timestamp: ts, Type: "transition", Transition: porting.TransitionState{New: next, Previous: prev}}
			tr.Authorization.Account.ID = owner.ID
			r.Transitions = append(r.Transitions, tr)
			prev = next
		}
		if err := s.CreateRequest(c, r); err != nil {
			t.Fatalf("CreateRequest: %v", err)
		}
		addDB(porting.NumberDB(n))
		reqs = append(reqs, r)
	}
	deleted := &porting.Request{ID: newID(t), Public: porting.Fields{}, Private: porting.Fields{}, State: porting.Canceled,
		AccountID: child.ID, Tree: []string{root.ID, child.ID}, Created: 63900000000, Modified: 63900000001, Deleted: true}
	if err := s.CreateRequest(c, deleted); err != nil {
		t.Fatalf("CreateRequest: %v", err)
	}
	f.update = reqs[0]
	f.update.Public.Set("carrier", "Verizon")
	if err := s.UpdateRequest(c, f.update); err != nil {
		t.Fatalf("UpdateRequest: %v", err)
	}

	// Attachments on the submitted request.
	sub := reqs[1]
	f.withAtts = sub.ID
	rev, err := s.PutAttachment(c, sub.ID, sub.Rev, "loa.pdf", "application/pdf", bytes.NewReader(pdf(150_000)))
	if err != nil {
		t.Fatalf("PutAttachment: %v", err)
	}
	if _, err := s.PutAttachment(c, sub.ID, rev, "bill.txt", "text/plain", strings.NewReader("bill")); err != nil {
		t.Fatalf("PutAttachment: %v", err)
	}
	f.attachments = 2

	// Claims of the active requests; one released.
	var claims []*porting.Claim
	for _, r := range reqs {
		if r.State.Active() {
			for _, n := range r.Numbers() {
				claims = append(claims, &porting.Claim{Number: n, RequestID: r.ID, AccountID: r.AccountID, Created: r.Created, Type: porting.ClaimType})
			}
		}
	}
	released := &porting.Claim{Number: "+19995550100", RequestID: deleted.ID, AccountID: child.ID, Created: 1, Type: porting.ClaimType}
	if taken, err := s.CreateClaims(c, append(claims, released)); err != nil || len(taken) != 0 {
		t.Fatalf("CreateClaims: %v, %v", taken, err)
	}
	if err := s.DeleteClaims(c, []*porting.Claim{released}); err != nil {
		t.Fatalf("DeleteClaims: %v", err)
	}

	// The completed request's number in service, and its charge.
	var done *porting.Request
	for _, r := range reqs {
		if r.State == porting.Completed {
			done = r
		}
	}
	num := done.Numbers()[0]
	if err := s.CreateNumber(c, &porting.PhoneNumber{Number: num, State: porting.NumberInService, AssignedTo: done.AccountID,
		PortedIn: true, PortID: done.ID, Created: completedAt, Modified: completedAt, Other: porting.Fields{}}); err != nil {
		t.Fatalf("CreateNumber: %v", err)
	}
	ledger := porting.AccountDB(done.AccountID) + "-" + porting.FromGregorian(completedAt).Format("200601")
	tx := &porting.Transaction{ID: newID(t), Type: "debit", Amount: porting.DollarsToUnits(1.5), Reason: "number_activation",
		Code: 3001, Description: "port", AccountID: done.AccountID, DB: ledger, AccountDB: porting.EncodedDB(ledger),
		Created: completedAt, Modified: completedAt, Vsn: 2}
	tx.Metadata.PortRequestID, tx.Metadata.Numbers = done.ID, []string{num}
	if err := s.CreateTransaction(c, tx); err != nil {
		t.Fatalf("CreateTransaction: %v", err)
	}
	addDB(ledger)

	// Bulk requests, without attachments, sharing a few numbers.
	var docs []*porting.RawDoc
	for i := range bulk {
		owner := []*porting.Account{root, child, grandchild}[i%3]
		r := porting.Request{ID: newID(t), Public: porting.Fields{}, Private: porting.Fields{}, State: porting.States[i%7],
			AccountID: owner.ID, Tree: append(slices.Clone(owner.Tree), owner.ID), Created: 63800000000, Modified: 63800000000 + int64(i)}
		n := fmt.Sprintf("+1303555%04d", i%20)
		r.Public.Set("name", fmt.Sprintf("bulk %d", i))
		r.Public.Set("numbers", map[string]any{n: map[string]any{}})
		addDB(porting.NumberDB(n))
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		d, err := porting.SplitRaw(b)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d)
	}
	for len(docs) > 0 {
		n := min(len(docs), 400)
		if err := s.RawPutMany(c, "port_requests", docs[:n]); err != nil {
			t.Fatalf("RawPutMany: %v", err)
		}
		docs = docs[n:]
	}
	return f
}

// pdf is n bytes that look like a PDF.
func pdf(n int) []byte {
	b := make([]byte, n)
	copy(b, "%PDF-1.4\n")
	for i := 9; i < n; i++ {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// rawDocs collects RawDocs of db.
func rawDocs(t *testing.T, s porting.RawStore, db string) []*porting.RawDoc {
	t.Helper()
	var out []*porting.RawDoc
	if err := s.RawDocs(ctx(t), db, func(d *porting.RawDoc) error { out = append(out, d); return nil }); err != nil {
		t.Fatalf("RawDocs %s: %v", db, err)
	}
	return out
}

// sameDocs fails unless every database of f holds the same documents on
// both stores, attachments byte for byte, and returns how many there are.
func sameDocs(t *testing.T, f *filled, a, b porting.RawStore) int {
	t.Helper()
	total := 0
	for _, db := range f.dbs {
		da, db2 := rawDocs(t, a, db), rawDocs(t, b, db)
		if len(da) == 0 && !strings.HasPrefix(db, "numbers/") {
			t.Errorf("%s: no documents on the source", db)
		}
		ids := func(ds []*porting.RawDoc) []string {
			out := []string{}
			for _, d := range ds {
				out = append(out, d.ID)
			}
			return out
		}
		if diff := cmp.Diff(ids(da), ids(db2)); diff != "" {
			t.Errorf("%s: ids (-source +target):\n%s", db, diff)
			continue
		}
		for i := range da {
			if !da[i].Equal(db2[i]) {
				t.Errorf("%s/%s differs:\n%s %v\n%s %v", db, da[i].ID, da[i].Body, da[i].Attachments, db2[i].Body, db2[i].Attachments)
			}
			for name := range da[i].Attachments {
				if x, y := attachment(t, a, db, da[i].ID, name), attachment(t, b, db, da[i].ID, name); !bytes.Equal(x, y) {
					t.Errorf("%s/%s/%s: %d bytes on the source, %d differing on the target", db, da[i].ID, name, len(x), len(y))
				}
			}
		}
		total += len(da)
	}
	return total
}

func attachment(t *testing.T, s porting.RawStore, db, id, name string) []byte {
	t.Helper()
	rc, err := s.RawAttachment(ctx(t), db, id, name)
	if err != nil {
		t.Fatalf("RawAttachment %s/%s/%s: %v", db, id, name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// migrateAndCheck copies from to to, twice, and checks the copy and the
// reports: everything copied and verified once, nothing the second time;
// then a document changed on each side is copied again, alone.
func migrateAndCheck(t *testing.T, f *filled, from, to store) {
	t.Helper()
	rep, err := migrate.Copy(ctx(t), from, to, nil)
	if err != nil {
		t.Fatalf("Copy: %v (after %v)", err, rep)
	}
	n := sameDocs(t, f, from, to)
	t.Logf("first run: %v", rep)
	want := &migrate.Report{Databases: len(f.dbs), Documents: n, Copied: n, Verified: n, Attachments: f.attachments}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("first run (-want +got):\n%s", diff)
	}

	rep, err = migrate.Copy(ctx(t), from, to, nil)
	if err != nil {
		t.Fatalf("second Copy: %v", err)
	}
	want = &migrate.Report{Databases: len(f.dbs), Documents: n, Skipped: n}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("second run (-want +got):\n%s", diff)
	}

	// A request changed on the source, another on the target, the one with
	// attachments on the target: exactly those are copied again.
	r, err := from.GetRequest(ctx(t), f.update.ID)
	if err != nil {
		t.Fatal(err)
	}
	r.Public.Set("carrier", "Telnyx")
	if err := from.UpdateRequest(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	var other *porting.RawDoc
	for _, d := range rawDocs(t, to, "port_requests") {
		if d.ID != f.update.ID && d.ID != f.withAtts && len(d.Attachments) == 0 {
			other = d
			break
		}
	}
	changed := *other
	changed.Body = append([]byte(`{"changed":true,`), other.Body[1:]...)
	if err := to.RawPutMany(ctx(t), "port_requests", []*porting.RawDoc{&changed}); err != nil {
		t.Fatal(err)
	}
	withAtts, err := to.GetRequest(ctx(t), f.withAtts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := to.DeleteAttachment(ctx(t), withAtts.ID, withAtts.Rev, "bill.txt"); err != nil {
		t.Fatal(err)
	}
	rep, err = migrate.Copy(ctx(t), from, to, nil)
	if err != nil {
		t.Fatalf("third Copy: %v", err)
	}
	want = &migrate.Report{Databases: len(f.dbs), Documents: n, Copied: 3, Skipped: n - 3, Verified: 3, Attachments: 2}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("run after changes (-want +got):\n%s", diff)
	}
	sameDocs(t, f, from, to)

	// The target serves what the source serves.
	for _, q := range []porting.ListQuery{
		{Account: r.Tree[0], Descendants: true, State: porting.Submitted},
		{Account: r.AccountID, State: r.State},
		{Account: r.Tree[0], Descendants: true, State: porting.Completed},
	} {
		a, err := storetest.ListRequests(ctx(t), from, q)
		if err != nil {
			t.Fatal(err)
		}
		b, err := storetest.ListRequests(ctx(t), to, q)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(listed(a), listed(b)); diff != "" {
			t.Errorf("listing %+v (-source +target):\n%s", q, diff)
		}
	}
	att, err := to.GetAttachment(ctx(t), f.withAtts, "loa.pdf")
	if err != nil {
		t.Fatalf("GetAttachment on the target: %v", err)
	}
	_ = att.Body.Close()
}

// listed is a listing page as ids and revisions' generations.
func listed(p *storetest.Page) []string {
	out := []string{}
	for _, r := range p.Requests() {
		out = append(out, r.ID+" "+r.Name())
	}
	return out
}

// Between two embedded stores: the requests span three batches.
func TestCopyBoltToBolt(t *testing.T) {
	from, to := openBolt(t), openBolt(t)
	f := fill(t, from, 2*migrate.BatchSize+150)
	migrateAndCheck(t, f, from, to)
}

// To CouchDB and back to a new embedded store.
func TestCopyViaCouchDB(t *testing.T) {
	couch := openCouch(t)
	from, back := openBolt(t), openBolt(t)
	f := fill(t, from, migrate.BatchSize+150)
	migrateAndCheck(t, f, from, couch)

	rep, err := migrate.Copy(ctx(t), couch, back, nil)
	if err != nil {
		t.Fatalf("Copy back: %v", err)
	}
	n := sameDocs(t, f, couch, back)
	if rep.Copied != n || rep.Verified != n || rep.Attachments != f.attachments || rep.Skipped != 0 {
		t.Errorf("copy back: %v, want %d copied and verified, %d attachments", rep, n, f.attachments)
	}
	sameDocs(t, f, from, back)
}
