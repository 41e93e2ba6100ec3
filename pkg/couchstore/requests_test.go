package couchstore_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/portreqd/portreqd/pkg/porting"
)

// rawJSON compares raw JSON members by value, not by bytes: the server may
// re-encode what it stores.
var rawJSON = cmp.Transformer("rawJSON", func(r json.RawMessage) any {
	var v any
	if err := json.Unmarshal(r, &v); err != nil {
		return string(r)
	}
	return v
})

// reqSpec describes a request for newRequest.
type reqSpec struct {
	account  string
	tree     []string // ancestors; the account is appended
	state    porting.State
	modified int64
	numbers  []string
	deleted  bool
}

// newRequest stores a request via the store and fails the test on error.
func (e *env) newRequest(t *testing.T, sp reqSpec) *porting.Request {
	t.Helper()
	if sp.state == "" {
		sp.state = porting.Submitted
	}
	nums := map[string]any{}
	for _, n := range sp.numbers {
		nums[n] = map[string]any{}
	}
	r := &porting.Request{
		ID: newID(t), Public: porting.Fields{}, State: sp.state, AccountID: sp.account,
		Tree:    append(append([]string{}, sp.tree...), sp.account),
		Created: sp.modified - 100, Modified: sp.modified, Deleted: sp.deleted,
		Private: porting.Fields{},
	}
	r.Public.Set("name", "port "+r.ID[:6])
	r.Public.Set("numbers", nums)
	if err := e.store.CreateRequest(ctx(t), r); err != nil {
		t.Fatalf("CreateRequest: %v", err)
	}
	return r
}

// getRequest reads a request via the store and fails the test on error.
func (e *env) getRequest(t *testing.T, id string) *porting.Request {
	t.Helper()
	r, err := e.store.GetRequest(ctx(t), id)
	if err != nil {
		t.Fatalf("GetRequest %s: %v", id, err)
	}
	return r
}

func TestRequestCreateGetUpdate(t *testing.T) {
	e := newEnv(t)
	acct := newID(t)
	r := e.newRequest(t, reqSpec{account: acct, tree: []string{newID(t)}, state: porting.Unconfirmed,
		modified: 63900000000, numbers: []string{"+12025550100"}})
	r.Public.Set("carrier", "Verizon")
	r.Transitions = []porting.Transition{{Timestamp: 63900000000, Type: "transition",
		Transition: porting.TransitionState{New: porting.Unconfirmed}}}
	if r.Rev == "" {
		t.Fatal("CreateRequest did not set Rev")
	}

	got := e.getRequest(t, r.ID)
	want := *r
	want.Public = r.Public.Clone()
	delete(want.Public, "carrier")
	want.Transitions = []porting.Transition{}
	if diff := cmp.Diff(&want, got, rawJSON, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("GetRequest (-want +got):\n%s", diff)
	}

	oldRev := r.Rev
	r.State, r.Modified = porting.Submitted, 63900000100
	if err := e.store.UpdateRequest(ctx(t), r); err != nil {
		t.Fatalf("UpdateRequest: %v", err)
	}
	if r.Rev == "" || r.Rev == oldRev {
		t.Errorf("UpdateRequest Rev = %q, want a new one (old %q)", r.Rev, oldRev)
	}
	again := e.getRequest(t, r.ID)
	if diff := cmp.Diff(r, again, rawJSON, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("after update (-want +got):\n%s", diff)
	}
	raw := e.rawDoc(t, "port_requests", r.ID)
	for k, want := range map[string]any{
		"pvt_type": "port_request", "pvt_port_state": "submitted", "pvt_account_id": acct,
		"pvt_account_db": porting.EncodedDB(porting.AccountDB(acct)), "pvt_vsn": "1", "carrier": "Verizon", "_rev": r.Rev,
	} {
		if raw[k] != want {
			t.Errorf("stored %s = %v, want %v", k, raw[k], want)
		}
	}
}

func TestRequestConflictsAndNotFound(t *testing.T) {
	e := newEnv(t)
	r := e.newRequest(t, reqSpec{account: newID(t), modified: 63900000000})
	stale := *r
	if err := e.store.UpdateRequest(ctx(t), r); err != nil {
		t.Fatalf("UpdateRequest: %v", err)
	}
	deleted := e.newRequest(t, reqSpec{account: newID(t), modified: 63900000000, deleted: true})
	other := newID(t)
	e.putRaw(t, "port_requests", other, map[string]any{"pvt_type": "account"})

	conflicts := []struct {
		name string
		op   func() error
	}{
		{"stale rev", func() error { s := stale; return e.store.UpdateRequest(ctx(t), &s) }},
		{"no rev", func() error { s := *r; s.Rev = ""; return e.store.UpdateRequest(ctx(t), &s) }},
		{"duplicate id", func() error { s := *r; return e.store.CreateRequest(ctx(t), &s) }},
	}
	for _, tt := range conflicts {
		t.Run(tt.name, func(t *testing.T) { wantKind(t, tt.op(), porting.KindConflict) })
	}
	for _, tt := range []struct{ name, id string }{
		{"unknown", newID(t)}, {"empty", ""}, {"not a request", other}, {"design doc", "_design/port_requests"},
	} {
		t.Run("get "+tt.name, func(t *testing.T) {
			_, err := e.store.GetRequest(ctx(t), tt.id)
			wantKind(t, err, porting.KindNotFound)
		})
	}
	t.Run("get deleted", func(t *testing.T) {
		if got := e.getRequest(t, deleted.ID); !got.Deleted {
			t.Errorf("GetRequest of a soft-deleted request: Deleted = false")
		}
	})
}

// A port request written by Kazoo 4.x, with members portreqd does not model,
// reads back and survives a read-modify-write with every member intact.
func TestKazooRequestRoundTrip(t *testing.T) {
	e := newEnv(t)
	fixture, err := os.ReadFile("testdata/kazoo_port_request.json")
	if err != nil {
		t.Fatal(err)
	}
	var kazoo map[string]any
	if err := json.Unmarshal(fixture, &kazoo); err != nil {
		t.Fatal(err)
	}
	id := kazoo["_id"].(string)
	e.putRaw(t, "port_requests", id, kazoo)
	before := e.rawDoc(t, "port_requests", id)

	r := e.getRequest(t, id)
	checks := []struct {
		name      string
		got, want any
	}{
		{"state", r.State, porting.Submitted},
		{"account", r.AccountID, "8a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d"},
		{"tree", r.Tree, []string{"1f2e3d4c5b6a79881f2e3d4c5b6a7988", "8a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d"}},
		{"created", r.Created, int64(63720000000)},
		{"modified", r.Modified, int64(63720000500)},
		{"name", r.Name(), "Kazoo 4.3 port"},
		{"numbers", r.Numbers(), []string{"+12025550123", "+12025550124"}},
		{"rev", r.Rev, before["_rev"]},
		{"unknown public", r.Public.String("winning_carrier"), "Telnyx"},
		{"unknown private", r.Private.String("pvt_request_id"), "e1f7c9b2a3d44c5e8f90a1b2c3d4e5f6"},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}

	r.Public.Set("name", "Renamed")
	r.Modified = 63720000999
	if err := e.store.UpdateRequest(ctx(t), r); err != nil {
		t.Fatalf("UpdateRequest: %v", err)
	}
	after := e.rawDoc(t, "port_requests", id)
	want := map[string]any{}
	for k, v := range before {
		want[k] = v
	}
	want["name"] = "Renamed"
	want["pvt_modified"] = float64(63720000999)
	// Members Kazoo leaves out and portreqd always writes.
	want["pvt_sent"] = false
	want["pvt_transitions"] = []any{}
	ignore := cmpopts.IgnoreMapEntries(func(k string, _ any) bool {
		return k == "_rev"
	})
	if diff := cmp.Diff(want, after, ignore); diff != "" {
		t.Errorf("stored document after update (-want +got):\n%s", diff)
	}
	if after["_rev"] != r.Rev {
		t.Errorf("stored _rev %v, store said %q", after["_rev"], r.Rev)
	}
}

// An edit goes out with attachment stubs; the stored bodies must survive it.
func TestUpdateRequestKeepsAttachments(t *testing.T) {
	e := newEnv(t)
	r := e.newRequest(t, reqSpec{account: newID(t), modified: 63900000000})
	body := bytes.Repeat([]byte("%PDF-1.4 keep me "), 1000)
	rev, err := e.store.PutAttachment(ctx(t), r.ID, r.Rev, "loa.pdf", "application/pdf", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("PutAttachment: %v", err)
	}

	for i := range 2 { // twice: the stubs' revpos must not matter
		got := e.getRequest(t, r.ID)
		if got.Rev != rev {
			t.Fatalf("GetRequest Rev %q, PutAttachment said %q", got.Rev, rev)
		}
		got.Public.Set("name", "edited")
		got.Modified += int64(i + 1)
		if err := e.store.UpdateRequest(ctx(t), got); err != nil {
			t.Fatalf("UpdateRequest %d: %v", i, err)
		}
		rev = got.Rev
	}

	final := e.getRequest(t, r.ID)
	if a := final.Attachments["loa.pdf"]; a.ContentType != "application/pdf" || a.Length != int64(len(body)) {
		t.Errorf("attachment metadata after update: %+v", a)
	}
	if got := readAttachment(t, e, r.ID, "loa.pdf"); !bytes.Equal(got, body) {
		t.Errorf("attachment body after update: %d bytes, want %d identical", len(got), len(body))
	}
}

func TestRequestsByNumber(t *testing.T) {
	e := newEnv(t)
	acct := newID(t)
	a := e.newRequest(t, reqSpec{account: acct, modified: 100, numbers: []string{"+12025550100", "+12025550101"}})
	b := e.newRequest(t, reqSpec{account: acct, state: porting.Canceled, modified: 200, numbers: []string{"+12025550100"}})
	e.newRequest(t, reqSpec{account: acct, modified: 300, numbers: []string{"+12025550100"}, deleted: true})
	e.newRequest(t, reqSpec{account: acct, modified: 400, numbers: []string{"+12025550102"}})

	tests := []struct {
		number string
		want   []string
	}{
		{"+12025550100", sortedIDs(a.ID, b.ID)},
		{"+12025550101", []string{a.ID}},
		{"+12025550199", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.number, func(t *testing.T) {
			got, err := e.store.RequestsByNumber(ctx(t), tt.number)
			if err != nil {
				t.Fatalf("RequestsByNumber: %v", err)
			}
			if diff := cmp.Diff(tt.want, sortedIDs(ids(got)...)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// readAttachment reads an attachment whole via the store.
func readAttachment(t *testing.T, e *env, id, name string) []byte {
	t.Helper()
	a, err := e.store.GetAttachment(ctx(t), id, name)
	if err != nil {
		t.Fatalf("GetAttachment %s: %v", name, err)
	}
	defer a.Body.Close()
	b, err := io.ReadAll(a.Body)
	if err != nil {
		t.Fatalf("read attachment %s: %v", name, err)
	}
	return b
}
