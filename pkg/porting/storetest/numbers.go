package storetest

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/porting"
)

var numberTests = []test{
	{"Numbers", testNumbers},
	{"AccountNumbers", testAccountNumbers},
	{"CreateTransaction", testCreateTransaction},
	{"NumbersInMissingDatabases", testNumbersInMissingDatabases},
	{"DeleteNumberAndTransaction", testDeleteNumberAndTransaction},
}

// testDeleteNumberAndTransaction: what a completion that lost its race
// takes back goes only at the revision it wrote, and can be written again.
func testDeleteNumberAndTransaction(t *testing.T, h *harness) {
	acct := newID(t)
	n := number("+16175550100", acct)
	h.createNumber(t, n)
	stale := *n
	stale.Rev = "1-00000000000000000000000000000000"
	wantKind(t, h.s.DeleteNumber(ctx(t), &stale), porting.KindConflict)
	noRev := *n
	noRev.Rev = ""
	wantKind(t, h.s.DeleteNumber(ctx(t), &noRev), porting.KindConflict)
	if err := h.s.DeleteNumber(ctx(t), n); err != nil {
		t.Fatalf("DeleteNumber: %v", err)
	}
	got, err := h.s.GetNumbers(ctx(t), []string{n.Number})
	if err != nil || len(got) != 0 {
		t.Fatalf("after DeleteNumber: GetNumbers = %v, %v", got, err)
	}
	if nums, err := h.s.AccountNumbers(ctx(t), acct); err != nil || len(nums) != 0 {
		t.Errorf("after DeleteNumber: AccountNumbers = %v, %v", nums, err)
	}
	if h.raw != nil {
		if doc, err := h.raw.RawGet(ctx(t), porting.AccountDB(acct), n.Number); err == nil {
			t.Errorf("after DeleteNumber the account database still holds %s", doc.Body)
		}
	}
	again := number(n.Number, acct)
	h.createNumber(t, again) // a retried completion puts it back

	db := porting.AccountDB(acct) + "-202612"
	tx := &porting.Transaction{ID: newID(t), Type: "debit", Amount: porting.DollarsToUnits(1), AccountID: acct,
		DB: db, AccountDB: porting.EncodedDB(db), Created: 63900000000, Modified: 63900000000, Vsn: 2}
	if err := h.s.CreateTransaction(ctx(t), tx); err != nil {
		t.Fatalf("CreateTransaction: %v", err)
	}
	staleTx := *tx
	staleTx.Rev = "1-00000000000000000000000000000000"
	wantKind(t, h.s.DeleteTransaction(ctx(t), &staleTx), porting.KindConflict)
	if err := h.s.DeleteTransaction(ctx(t), tx); err != nil {
		t.Fatalf("DeleteTransaction: %v", err)
	}
	tx2 := *tx
	tx2.Rev = ""
	if err := h.s.CreateTransaction(ctx(t), &tx2); err != nil {
		t.Errorf("CreateTransaction after DeleteTransaction: %v", err)
	}
}

// testNumbersInMissingDatabases reads and writes numbers whose databases do
// not exist yet, many at a time, again and again: Apache CouchDB answers a
// request with a body for a missing database before reading the body and
// resets the connection, which once turned into 503s for every submit of
// a number in a new area code.
func testNumbersInMissingDatabases(t *testing.T, h *harness) {
	for round := range 15 {
		npa := 200 + round
		many := make([]string, 400)
		for i := range many {
			many[i] = fmt.Sprintf("+1%d555%04d", npa, i)
		}
		got, err := h.s.GetNumbers(ctx(t), many)
		if err != nil || len(got) != 0 {
			t.Fatalf("round %d: GetNumbers in a missing database = %d numbers, %v", round, len(got), err)
		}
		n := number(many[round], newID(t))
		h.createNumber(t, n)
		got, err = h.s.GetNumbers(ctx(t), many)
		if err != nil || len(got) != 1 || got[many[round]] == nil {
			t.Fatalf("round %d: after CreateNumber, GetNumbers = %v, %v", round, got, err)
		}
	}
}

// number builds an in-service number document.
func number(e164, account string) *porting.PhoneNumber {
	return &porting.PhoneNumber{Number: e164, State: porting.NumberInService, AssignedTo: account,
		PortedIn: true, PortID: "port", Created: 63900000000, Modified: 63900000000, Other: porting.Fields{}}
}

// createNumber stores n via the store and fails the test on error.
func (h *harness) createNumber(t *testing.T, n *porting.PhoneNumber) {
	t.Helper()
	if err := h.s.CreateNumber(ctx(t), n); err != nil {
		t.Fatalf("CreateNumber %s: %v", n.Number, err)
	}
}

func testNumbers(t *testing.T, h *harness) {
	acct, other := newID(t), newID(t)
	a := number("+12025550100", acct)
	a.Other.Set("used_by", "callflow") // Kazoo's members survive
	h.createNumber(t, a)
	wantRev(t, "CreateNumber", a.Rev, 1)
	if h.raw != nil {
		// Kazoo's database name, "/" and "+" included; pvt_db_name
		// URL-encoded, as knm_converters:to_db writes it.
		raw := h.rawDoc(t, "numbers/+1202", "+12025550100")
		if raw["pvt_assigned_to"] != acct || raw["pvt_state"] != "in_service" || raw["pvt_db_name"] != "numbers%2F%2B1202" ||
			raw["used_by"] != "callflow" {
			t.Errorf("stored number = %v", raw)
		}
		// The same document in the account's database, where Kazoo's
		// number listings look.
		copied := h.rawDoc(t, porting.AccountDB(acct), "+12025550100")
		delete(raw, "_rev")
		delete(copied, "_rev")
		if diff := cmp.Diff(raw, copied); diff != "" {
			t.Errorf("account database copy (-number database +account database):\n%s", diff)
		}
	}
	wantKind(t, h.s.CreateNumber(ctx(t), number("+12025550100", other)), porting.KindConflict)

	b := number("+13035550100", acct) // a second number database
	h.createNumber(t, b)
	c := number("+12025550101", other)
	h.createNumber(t, c)

	got, err := h.s.GetNumbers(ctx(t), []string{
		"+12025550100", "+13035550100", "+12025550101",
		"+12025550199", // absent from an existing database
		"+14155550100", // its database does not exist
		"+12025550100", // asked twice
	})
	if err != nil {
		t.Fatalf("GetNumbers: %v", err)
	}
	want := map[string]*porting.PhoneNumber{a.Number: a, b.Number: b, c.Number: c}
	if diff := cmp.Diff(want, got, rawJSON); diff != "" {
		t.Errorf("GetNumbers (-want +got):\n%s", diff)
	}
	if got, err := h.s.GetNumbers(ctx(t), nil); err != nil || len(got) != 0 {
		t.Errorf("GetNumbers(nil) = %v, %v", got, err)
	}
}

func testAccountNumbers(t *testing.T, h *harness) {
	acct, other := newID(t), newID(t)
	h.newRequest(t, reqSpec{account: acct, state: porting.Completed, modified: 100,
		numbers: []string{"+13035550100", "+12025550100", "+12025550101", "+12025550102"}})
	h.newRequest(t, reqSpec{account: acct, state: porting.Completed, modified: 200, numbers: []string{"+12025550100"}})
	h.newRequest(t, reqSpec{account: other, state: porting.Completed, modified: 100, numbers: []string{"+12025550103"}})
	h.newRequest(t, reqSpec{account: acct, state: porting.Completed, modified: 100, numbers: []string{"+12025550104"}, deleted: true})
	h.createNumber(t, number("+13035550100", acct))
	h.createNumber(t, number("+12025550100", acct))
	h.createNumber(t, number("+12025550101", other)) // moved on to another account
	h.createNumber(t, number("+12025550103", acct))  // assigned here, but never on a request of acct
	h.createNumber(t, number("+12025550104", acct))  // only on a deleted request
	released := number("+12025550102", acct)
	released.State = "available"
	h.createNumber(t, released)

	got, err := h.s.AccountNumbers(ctx(t), acct)
	if err != nil {
		t.Fatalf("AccountNumbers: %v", err)
	}
	var nums []string
	for _, n := range got {
		nums = append(nums, n.Number)
	}
	if diff := cmp.Diff([]string{"+12025550100", "+13035550100"}, nums); diff != "" {
		t.Errorf("AccountNumbers (-want +got):\n%s", diff)
	}
	if got, err := h.s.AccountNumbers(ctx(t), newID(t)); err != nil || got == nil || len(got) != 0 {
		t.Errorf("AccountNumbers of an account without numbers = %#v, %v", got, err)
	}
}

func testCreateTransaction(t *testing.T, h *harness) {
	acct := newID(t)
	db := porting.AccountDB(acct) + "-202611"
	tx := &porting.Transaction{ID: newID(t), Type: "debit", Amount: porting.DollarsToUnits(12.5),
		Reason: "number_activation", Code: 3001, Description: "port", AccountID: acct, DB: db, AccountDB: porting.EncodedDB(db),
		Created: 63900000000, Modified: 63900000000, Vsn: 2}
	tx.Metadata.PortRequestID = newID(t)
	tx.Metadata.Numbers = []string{"+12025550100"}
	if err := h.s.CreateTransaction(ctx(t), tx); err != nil {
		t.Fatalf("CreateTransaction: %v", err)
	}
	wantRev(t, "CreateTransaction", tx.Rev, 1)
	if h.raw != nil {
		raw := h.rawDoc(t, db, tx.ID)
		if raw["pvt_amount"] != float64(125000) || raw["pvt_type"] != "debit" {
			t.Errorf("stored transaction = %v", raw)
		}
	}
	again := *tx
	again.Rev = ""
	wantKind(t, h.s.CreateTransaction(ctx(t), &again), porting.KindConflict)
	// The same id in another month's database is another document.
	next := *tx
	next.Rev, next.DB = "", porting.AccountDB(acct)+"-202612"
	if err := h.s.CreateTransaction(ctx(t), &next); err != nil {
		t.Errorf("CreateTransaction in another month: %v", err)
	}
}
