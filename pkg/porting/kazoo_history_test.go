package porting_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/porting"
)

// kazoo43Request is testdata/kazoo43_port_request.json with the
// placeholders MASTER, RESELLER and CUSTOMER naming w's accounts. The
// fixture's members, as Kazoo 4.3 writes them (2600hz/kazoo, branch 4.3):
//
//   - name, numbers, bill, notifications, reference_number: the client's,
//     kept by cb_port_requests:create (numbers normalised by
//     knm_converters:normalize);
//   - comments: cb_port_requests validate_port_comments (account_id,
//     user_id, author set on new comments; is_private, action_required
//     from kzd_comment) and a Kazoo 4.0 superduper_comment entry, which
//     4.3 reads as private (filter_private_comments);
//   - pvt_type, pvt_port_state, pvt_transitions (the creation entry without
//     previous, then each transition prepended: newest first, with
//     authorization.user and reason), pvt_account_name,
//     pvt_port_authority, pvt_port_authority_name: knm_port_request:new
//     and successful_transition;
//   - pvt_tree (the account's ancestors only): knm_port_request:save;
//   - pvt_account_id, pvt_account_db ("port_requests", the database the
//     document is saved in), pvt_created, pvt_modified, pvt_vsn,
//     pvt_request_id, pvt_alphanum_name: crossbar_doc:save.
func kazoo43Request(t *testing.T, w *world) (string, []byte) {
	t.Helper()
	b, err := os.ReadFile("testdata/kazoo43_port_request.json")
	if err != nil {
		t.Fatal(err)
	}
	for placeholder, id := range map[string]string{`"MASTER"`: w.master.ID, `"RESELLER"`: w.reseller.ID, `"CUSTOMER"`: w.customer.ID} {
		b = bytes.ReplaceAll(b, []byte(placeholder), []byte(`"`+id+`"`))
	}
	var head struct {
		ID string `json:"_id"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		t.Fatal(err)
	}
	return head.ID, b
}

// A Kazoo 4.3 request moved by portreqd keeps every member it had and
// every history entry byte for byte (authorization.user and reason
// included), with the new entry first, in Kazoo 4.3's shape.
func TestKazoo43HistoryKept(t *testing.T) {
	w := newWorld(t, porting.Rules{})
	ctx := context.Background()
	id, fixture := kazoo43Request(t, w)
	raw := w.store.(porting.RawStore)
	if err := raw.RawPut(ctx, "port_requests", &porting.RawDoc{ID: id, Body: fixture}, nil); err != nil {
		t.Fatal(err)
	}

	if _, err := w.svc.Transition(ctx, w.reseller, w.customer.ID, id, porting.Pending,
		porting.TransitionInput{Data: fields(t, `{"reason":"accepted by the carrier"}`)}); err != nil {
		t.Fatalf("pending: %v", err)
	}

	stored, err := raw.RawGet(ctx, "port_requests", id)
	if err != nil {
		t.Fatal(err)
	}
	var before, after map[string]json.RawMessage
	if err := json.Unmarshal(fixture, &before); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(stored.Body, &after); err != nil {
		t.Fatal(err)
	}
	var was, is []json.RawMessage
	_ = json.Unmarshal(before["pvt_transitions"], &was)
	if err := json.Unmarshal(after["pvt_transitions"], &is); err != nil || len(is) != len(was)+1 {
		t.Fatalf("pvt_transitions after a move: %s (%v), want %d entries", after["pvt_transitions"], err, len(was)+1)
	}
	for i, entry := range was {
		var c bytes.Buffer
		_ = json.Compact(&c, entry)
		if !bytes.Equal(is[i+1], c.Bytes()) {
			t.Errorf("entry %d rewritten:\n%s\nwas\n%s", i, is[i+1], c.Bytes())
		}
	}
	var newest struct {
		Timestamp     int64
		Type          string
		Reason        string
		Transition    map[string]string
		Authorization struct{ Account map[string]string }
	}
	if err := json.Unmarshal(is[0], &newest); err != nil {
		t.Fatal(err)
	}
	if newest.Type != "transition" || newest.Reason != "accepted by the carrier" || newest.Timestamp <= 63900000050 ||
		!cmp.Equal(newest.Transition, map[string]string{"new": "pending", "previous": "submitted"}) ||
		newest.Authorization.Account["id"] != w.reseller.ID || newest.Authorization.Account["name"] != "Reseller" {
		t.Errorf("new entry %s", is[0])
	}

	// Every other member is as Kazoo wrote it.
	changed := map[string]bool{"_id": true, "_rev": true, "pvt_port_state": true, "pvt_modified": true, "pvt_transitions": true}
	for k, v := range before {
		if changed[k] {
			continue
		}
		var a, b any
		_ = json.Unmarshal(v, &a)
		_ = json.Unmarshal(after[k], &b)
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("member %s (-Kazoo's +after portreqd):\n%s", k, diff)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok && !strings.HasPrefix(k, "_") && k != "pvt_sent" {
			t.Errorf("member %s added", k)
		}
	}
}
