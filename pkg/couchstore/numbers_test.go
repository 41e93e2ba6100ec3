package couchstore_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/porting"
)

// number builds an in-service number document.
func number(e164, account string) *porting.PhoneNumber {
	return &porting.PhoneNumber{Number: e164, State: porting.NumberInService, AssignedTo: account,
		PortedIn: true, PortID: "port", Created: 63900000000, Modified: 63900000000, Other: porting.Fields{}}
}

// createNumber stores n via the store and fails the test on error.
func (e *env) createNumber(t *testing.T, n *porting.PhoneNumber) {
	t.Helper()
	e.dropLater(porting.NumberDB(n.Number))
	if err := e.store.CreateNumber(ctx(t), n); err != nil {
		t.Fatalf("CreateNumber %s: %v", n.Number, err)
	}
}

func TestNumbers(t *testing.T) {
	e := newEnv(t)
	acct, other := newID(t), newID(t)
	a := number("+12025550100", acct)
	e.createNumber(t, a)
	if a.Rev == "" {
		t.Error("CreateNumber did not set Rev")
	}
	// Kazoo's database name, "/" and "+" included, addressed as such.
	raw := e.rawDoc(t, "numbers/+1202", "+12025550100")
	if raw["pvt_assigned_to"] != acct || raw["pvt_state"] != "in_service" || raw["pvt_db_name"] != "numbers/+1202" {
		t.Errorf("stored number = %v", raw)
	}
	wantKind(t, e.store.CreateNumber(ctx(t), number("+12025550100", other)), porting.KindConflict)

	b := number("+13035550100", acct) // a second number database
	e.createNumber(t, b)
	c := number("+12025550101", other)
	e.createNumber(t, c)

	got, err := e.store.GetNumbers(ctx(t), []string{
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
	if got, err := e.store.GetNumbers(ctx(t), nil); err != nil || len(got) != 0 {
		t.Errorf("GetNumbers(nil) = %v, %v", got, err)
	}
}

func TestAccountNumbers(t *testing.T) {
	e := newEnv(t)
	acct, other := newID(t), newID(t)
	e.newRequest(t, reqSpec{account: acct, state: porting.Completed, modified: 100,
		numbers: []string{"+13035550100", "+12025550100", "+12025550101", "+12025550102"}})
	e.newRequest(t, reqSpec{account: acct, state: porting.Completed, modified: 200, numbers: []string{"+12025550100"}})
	e.newRequest(t, reqSpec{account: other, state: porting.Completed, modified: 100, numbers: []string{"+12025550103"}})
	e.createNumber(t, number("+13035550100", acct))
	e.createNumber(t, number("+12025550100", acct))
	e.createNumber(t, number("+12025550101", other)) // moved on to another account
	gone := number("+12025550103", acct)             // assigned here, but never on a request of acct
	e.createNumber(t, gone)
	released := number("+12025550102", acct)
	released.State = "available"
	e.createNumber(t, released)

	got, err := e.store.AccountNumbers(ctx(t), acct)
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
	if got, err := e.store.AccountNumbers(ctx(t), newID(t)); err != nil || len(got) != 0 {
		t.Errorf("AccountNumbers of an account without numbers = %v, %v", got, err)
	}
}

func TestCreateTransaction(t *testing.T) {
	e := newEnv(t)
	acct := newID(t)
	db := porting.AccountDB(acct) + "-202611"
	e.dropLater(db)
	tx := &porting.Transaction{ID: newID(t), Type: "debit", Amount: porting.DollarsToUnits(12.5),
		Reason: "number_activation", Code: 3001, Description: "port", AccountID: acct, DB: db, AccountDB: porting.EncodedDB(db),
		Created: 63900000000, Modified: 63900000000, Vsn: 2}
	tx.Metadata.PortRequestID = newID(t)
	tx.Metadata.Numbers = []string{"+12025550100"}
	if err := e.store.CreateTransaction(ctx(t), tx); err != nil {
		t.Fatalf("CreateTransaction: %v", err)
	}
	if tx.Rev == "" {
		t.Error("CreateTransaction did not set Rev")
	}
	raw := e.rawDoc(t, db, tx.ID)
	if raw["pvt_amount"] != float64(125000) || raw["pvt_type"] != "debit" {
		t.Errorf("stored transaction = %v", raw)
	}
	again := *tx
	again.Rev = ""
	wantKind(t, e.store.CreateTransaction(ctx(t), &again), porting.KindConflict)
}
