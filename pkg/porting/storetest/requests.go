package storetest

import (
	_ "embed"
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/portreqd/portreqd/pkg/porting"
)

var requestTests = []test{
	{"RequestCreateGetUpdate", testRequestCreateGetUpdate},
	{"RequestConflictsAndNotFound", testRequestConflictsAndNotFound},
	{"RequestStoredShape", testRequestStoredShape},
	{"KazooRequestRoundTrip", testKazooRequestRoundTrip},
}

// kazooRequest is a port request as Kazoo 4.3 writes it, with members
// portreqd does not model.
//
//go:embed testdata/kazoo_port_request.json
var kazooRequest []byte

// reqSpec describes a request for newRequest.
type reqSpec struct {
	account  string
	tree     []string // the account's ancestors (Kazoo's pvt_tree)
	state    porting.State
	modified int64
	numbers  []string
	deleted  bool
}

// newRequest stores a request via the store and fails the test on error.
func (h *harness) newRequest(t *testing.T, sp reqSpec) *porting.Request {
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
		Tree:    append([]string{}, sp.tree...),
		Created: sp.modified - 100, Modified: sp.modified, Deleted: sp.deleted,
		Private: porting.Fields{},
	}
	r.Public.Set("name", "port "+r.ID[:6])
	r.Public.Set("numbers", nums)
	if err := h.s.CreateRequest(ctx(t), r); err != nil {
		t.Fatalf("CreateRequest: %v", err)
	}
	return r
}

// getRequest reads a request via the store and fails the test on error.
func (h *harness) getRequest(t *testing.T, id string) *porting.Request {
	t.Helper()
	r, err := h.s.GetRequest(ctx(t), id)
	if err != nil {
		t.Fatalf("GetRequest %s: %v", id, err)
	}
	return r
}

// update writes r via the store and fails the test on error.
func (h *harness) update(t *testing.T, r *porting.Request) {
	t.Helper()
	if err := h.s.UpdateRequest(ctx(t), r); err != nil {
		t.Fatalf("UpdateRequest: %v", err)
	}
}

func testRequestCreateGetUpdate(t *testing.T, h *harness) {
	acct := newID(t)
	r := h.newRequest(t, reqSpec{account: acct, tree: []string{newID(t)}, state: porting.Unconfirmed,
		modified: 63900000000, numbers: []string{"+12025550100"}})
	wantRev(t, "CreateRequest", r.Rev, 1)
	r.Public.Set("carrier", "Verizon")
	r.Transitions = []porting.Transition{{Timestamp: 63900000000, Type: "transition",
		Transition: porting.TransitionState{New: porting.Unconfirmed}}}

	got := h.getRequest(t, r.ID)
	want := *r
	want.Public = r.Public.Clone()
	delete(want.Public, "carrier")
	want.Transitions = []porting.Transition{}
	if diff := cmp.Diff(&want, got, rawJSON, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("GetRequest (-want +got):\n%s", diff)
	}

	r.State, r.Modified = porting.Submitted, 63900000100
	h.update(t, r)
	wantRev(t, "UpdateRequest", r.Rev, 2)
	again := h.getRequest(t, r.ID)
	if diff := cmp.Diff(r, again, rawJSON, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("after update (-want +got):\n%s", diff)
	}
	if h.raw == nil {
		return
	}
	raw := h.rawDoc(t, "port_requests", r.ID)
	for k, want := range map[string]any{
		"_id": r.ID, "pvt_type": "port_request", "pvt_port_state": "submitted", "pvt_account_id": acct,
		"pvt_account_db": "port_requests", "pvt_vsn": "1", "carrier": "Verizon",
	} {
		if raw[k] != want {
			t.Errorf("stored %s = %v, want %v", k, raw[k], want)
		}
	}
}

func testRequestConflictsAndNotFound(t *testing.T, h *harness) {
	r := h.newRequest(t, reqSpec{account: newID(t), modified: 63900000000})
	stale := *r
	h.update(t, r)
	deleted := h.newRequest(t, reqSpec{account: newID(t), modified: 63900000000, deleted: true})

	conflicts := []struct {
		name string
		op   func() error
	}{
		{"stale rev", func() error { s := stale; return h.s.UpdateRequest(ctx(t), &s) }},
		{"no rev", func() error { s := *r; s.Rev = ""; return h.s.UpdateRequest(ctx(t), &s) }},
		{"duplicate id", func() error { s := *r; return h.s.CreateRequest(ctx(t), &s) }},
		{"duplicate of a deleted one", func() error { s := *deleted; return h.s.CreateRequest(ctx(t), &s) }},
		// No "update of an unknown id" case: Apache CouchDB 3.4.3 may accept
		// a PUT that carries a _rev for a document it does not have, and
		// creates it at the next generation (seen for revisions that exist
		// elsewhere in the database). The service reads before it writes.
	}
	for _, tt := range conflicts {
		t.Run(tt.name, func(t *testing.T) { wantKind(t, tt.op(), porting.KindConflict) })
	}
	if got := h.getRequest(t, r.ID); got.Rev != r.Rev {
		t.Errorf("failed writes changed the document: rev %s, want %s", got.Rev, r.Rev)
	}
	for _, tt := range []struct{ name, id string }{
		{"unknown", newID(t)}, {"empty", ""}, {"design doc", "_design/port_requests"},
	} {
		t.Run("get "+tt.name, func(t *testing.T) {
			_, err := h.s.GetRequest(ctx(t), tt.id)
			wantKind(t, err, porting.KindNotFound)
		})
	}
	t.Run("get not a request", func(t *testing.T) {
		other := newID(t)
		h.putRaw(t, "port_requests", other, map[string]any{"pvt_type": "account"})
		_, err := h.s.GetRequest(ctx(t), other)
		wantKind(t, err, porting.KindNotFound)
	})
	t.Run("get deleted", func(t *testing.T) {
		if got := h.getRequest(t, deleted.ID); !got.Deleted {
			t.Errorf("GetRequest of a soft-deleted request: Deleted = false")
		}
	})
}

// The stored document has exactly Kazoo's members, so that the two stores
// and Kazoo hold the same JSON.
func testRequestStoredShape(t *testing.T, h *harness) {
	h.needRaw(t)
	r := h.newRequest(t, reqSpec{account: newID(t), modified: 63900000000, numbers: []string{"+12025550100"}})
	raw := h.rawDoc(t, "port_requests", r.ID)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range raw {
			if !yield(k) {
				return
			}
		}
	})
	want := []string{"_id", "name", "numbers", "pvt_account_db", "pvt_account_id", "pvt_created",
		"pvt_modified", "pvt_port_state", "pvt_sent", "pvt_transitions", "pvt_tree", "pvt_type", "pvt_vsn"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("stored members (-want +got):\n%s", diff)
	}
}

// A port request written by Kazoo 4.x, with members portreqd does not model,
// reads back and survives a read-modify-write with every member intact.
// The fixture's members as Kazoo 4.3 writes them: the client's public
// members (cb_port_requests:create), pvt_type, pvt_port_state,
// pvt_account_name, pvt_port_authority(_name) and pvt_transitions newest
// first with authorization.user (knm_port_request:new and
// successful_transition), pvt_tree the account's ancestors
// (knm_port_request:save), pvt_account_db "port_requests",
// pvt_request_id, pvt_auth_account_id (crossbar_doc:save).
func testKazooRequestRoundTrip(t *testing.T, h *harness) {
	h.needRaw(t)
	var kazoo map[string]any
	if err := json.Unmarshal(kazooRequest, &kazoo); err != nil {
		t.Fatal(err)
	}
	id := kazoo["_id"].(string)
	h.putRaw(t, "port_requests", id, kazoo)
	before := h.rawDoc(t, "port_requests", id)

	r := h.getRequest(t, id)
	if r.Rev == "" {
		t.Error("Kazoo's request read without a revision")
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"state", r.State, porting.Submitted},
		{"account", r.AccountID, "8a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d"},
		{"tree", r.Tree, []string{"1f2e3d4c5b6a79881f2e3d4c5b6a7988"}},
		{"created", r.Created, int64(63720000000)},
		{"modified", r.Modified, int64(63720000500)},
		{"name", r.Name(), "Kazoo 4.3 port"},
		{"numbers", r.Numbers(), []string{"+12025550123", "+12025550124"}},
		{"unknown public", r.Public.String("winning_carrier"), "Telnyx"},
		{"unknown private", r.Private.String("pvt_request_id"), "e1f7c9b2a3d44c5e8f90a1b2c3d4e5f6"},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, c.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
	// Kazoo's documents are in the views like portreqd's.
	p, err := ListRequests(ctx(t), h.s, porting.ListQuery{Account: "1f2e3d4c5b6a79881f2e3d4c5b6a7988",
		Descendants: true, State: porting.Submitted})
	if err != nil || len(p.Requests()) != 1 || p.Requests()[0].ID != id {
		t.Errorf("Kazoo's request in its ancestor's listing: %v, %v", p, err)
	}

	r.Public.Set("name", "Renamed")
	r.Modified = 63720000999
	h.update(t, r)
	after := h.rawDoc(t, "port_requests", id)
	want := map[string]any{}
	for k, v := range before {
		want[k] = v
	}
	want["name"] = "Renamed"
	want["pvt_modified"] = float64(63720000999)
	// A member Kazoo leaves out until the request is sent and portreqd
	// always writes.
	want["pvt_sent"] = false
	if diff := cmp.Diff(want, after); diff != "" {
		t.Errorf("stored document after update (-want +got):\n%s", diff)
	}
	if got := h.getRequest(t, id); got.Rev != r.Rev {
		t.Errorf("rev %s, UpdateRequest said %s", got.Rev, r.Rev)
	}
}
