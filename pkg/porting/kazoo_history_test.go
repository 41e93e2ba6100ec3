package porting_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
		// pvt_outbox: portreqd's events to deliver (events.go), a private
		// member Kazoo neither shows nor reads.
		if _, ok := before[k]; !ok && !strings.HasPrefix(k, "_") && k != "pvt_sent" && k != "pvt_outbox" {
			t.Errorf("member %s added", k)
		}
	}
}

// A request portreqd creates carries Kazoo 4.3's members: the account's
// ancestors as pvt_tree, pvt_account_db "port_requests", the account's
// name and its port authority.
func TestNewRequestKazoo43Members(t *testing.T) {
	w := newWorld(t, porting.Rules{})
	ctx := context.Background()
	r := w.request(t, "+12025550161")
	stored, err := w.store.(porting.RawStore).RawGet(ctx, "port_requests", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(stored.Body, &doc); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"pvt_tree":                []any{w.master.ID, w.reseller.ID},
		"pvt_account_db":          "port_requests",
		"pvt_account_id":          w.customer.ID,
		"pvt_account_name":        "Customer",
		"pvt_port_authority":      w.reseller.ID,
		"pvt_port_authority_name": "Reseller",
		"pvt_transitions": []any{map[string]any{"timestamp": float64(r.Created), "type": "transition",
			"transition":    map[string]any{"new": "unconfirmed"},
			"authorization": map[string]any{"account": map[string]any{"id": w.customer.ID, "name": "Customer"}}}},
	} {
		if diff := cmp.Diff(want, doc[k]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", k, diff)
		}
	}
}

// The port authority a request's document names wins over the one the
// account tree gives now (Kazoo 4.3's find_port_authority): a request
// submitted to the master stays the master's when a reseller becomes the
// authority, and the reseller can neither move it nor read its private
// comments. An authority that no longer exists gives way to the tree's.
func TestStoredAuthorityWins(t *testing.T) {
	w := newWorld(t, porting.Rules{})
	ctx := context.Background()
	raw := w.store.(porting.RawStore)
	id, fixture := kazoo43Request(t, w)
	put := func(authority string) {
		t.Helper()
		var doc map[string]any
		if err := json.Unmarshal(fixture, &doc); err != nil {
			t.Fatal(err)
		}
		doc["pvt_port_authority"] = authority
		if cur, err := raw.RawGet(ctx, "port_requests", id); err == nil {
			var m map[string]any
			_ = json.Unmarshal(cur.Body, &m)
			doc["_rev"] = m["_rev"]
		}
		b, _ := json.Marshal(doc)
		if err := raw.RawPut(ctx, "port_requests", &porting.RawDoc{ID: id, Body: b}, nil); err != nil {
			t.Fatal(err)
		}
	}
	put(w.master.ID)
	if _, err := w.svc.Transition(ctx, w.reseller, w.customer.ID, id, porting.Pending, porting.TransitionInput{Data: porting.Fields{}}); !porting.IsKind(err, porting.KindForbidden) {
		t.Errorf("the tree's authority moves a request the master holds: %v, want forbidden", err)
	}
	if sees, err := w.svc.SeesPrivateComments(ctx, w.reseller, w.customer.ID, w.master.ID); err != nil || sees {
		t.Errorf("the tree's authority reads the master's request's private comments: %v, %v", sees, err)
	}
	if _, err := w.svc.Transition(ctx, w.master, w.customer.ID, id, porting.Pending, porting.TransitionInput{Data: porting.Fields{}}); err != nil {
		t.Errorf("the named authority (master) moves it: %v", err)
	}
	// Its _read_only block names the master; the account's others the
	// reseller.
	for _, c := range []struct{ named, want string }{{w.master.ID, w.master.ID}, {"", w.reseller.ID}, {w.reseller.ID, w.reseller.ID}} {
		ro, err := w.svc.ReadOnlyFor(ctx, w.customer.ID, c.named)
		var block struct {
			Authority string `json:"port_authority"`
			Name      string `json:"port_authority_name"`
		}
		if err != nil || json.Unmarshal(ro, &block) != nil || block.Authority != c.want || block.Name == "" {
			t.Errorf("_read_only of a request naming %q: %s (%v), want port_authority %s", c.named, ro, err, c.want)
		}
	}

	put("ffffffffffffffffffffffffffffffff") // submitted again, naming an account that is gone
	if _, err := w.svc.Transition(ctx, w.reseller, w.customer.ID, id, porting.Pending, porting.TransitionInput{Data: porting.Fields{}}); err != nil {
		t.Errorf("with the named authority gone, the tree's moves it: %v", err)
	}
}

// A new account carries what Kazoo's crossbar writes: a SIP realm (the
// client's without spaces, or a random one under the configured suffix),
// pvt_enabled inherited from its parent, pvt_vsn.
func TestNewAccountKazooMembers(t *testing.T) {
	w := newWorld(t, porting.Rules{RealmSuffix: "sip.example.net"})
	for _, c := range []struct {
		name, body string
		realm      func(string) bool
	}{
		{"given realm", `{"name":"Given","realm":"pbx .acme.example"}`, func(r string) bool { return r == "pbx.acme.example" }},
		{"random realm", `{"name":"Random"}`, func(r string) bool {
			return len(r) == len("xxxxxx.sip.example.net") && strings.HasSuffix(r, ".sip.example.net")
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := w.account(t, w.master, w.reseller.ID, c.body)
			if got := a.Other.String("realm"); !c.realm(got) {
				t.Errorf("realm %q", got)
			}
			if got := string(a.Other["pvt_enabled"]); got != "true" {
				t.Errorf("pvt_enabled %s, want true (the parent's default)", got)
			}
			if got := a.Other.String("pvt_vsn"); got != "1" {
				t.Errorf("pvt_vsn %q", got)
			}
		})
	}
}

// Completion writes what Kazoo 4.3's does: each number in service with the
// application it was ported for (pvt_used_by), and the request's
// pvt_ported_numbers.
func TestCompletionKazoo43Members(t *testing.T) {
	w := newWorld(t, porting.Rules{})
	ctx := context.Background()
	r, err := w.svc.CreateRequest(ctx, w.customer, w.customer.ID, fields(t, `{"name":"used by","numbers":{"+12025550171":{"used_by":"callflow"},"+12025550172":{}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		actor *porting.Account
		to    porting.State
	}{{w.customer, porting.Submitted}, {w.reseller, porting.Pending}, {w.reseller, porting.Completed}} {
		if r, err = w.svc.Transition(ctx, step.actor, w.customer.ID, r.ID, step.to, porting.TransitionInput{Data: porting.Fields{}}); err != nil {
			t.Fatalf("%s: %v", step.to, err)
		}
	}
	nums, err := w.store.GetNumbers(ctx, []string{"+12025550171", "+12025550172"})
	if err != nil || len(nums) != 2 {
		t.Fatalf("GetNumbers = %v, %v", nums, err)
	}
	if got := nums["+12025550171"].Other.String("pvt_used_by"); got != "callflow" {
		t.Errorf("pvt_used_by of +12025550171 = %q, want callflow", got)
	}
	if _, ok := nums["+12025550172"].Other["pvt_used_by"]; ok {
		t.Errorf("pvt_used_by set on a number ported for no application")
	}
	stored, err := w.store.(porting.RawStore).RawGet(ctx, "port_requests", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Ported map[string]any `json:"pvt_ported_numbers"`
	}
	if err := json.Unmarshal(stored.Body, &doc); err != nil || len(doc.Ported) != 2 {
		t.Errorf("pvt_ported_numbers = %v (%v), want both numbers", doc.Ported, err)
	}
}

// A realm belongs to one account (Kazoo's validate_realm_is_unique, case
// aside), on create and on edit; an account keeps its own.
func TestRealmUnique(t *testing.T) {
	w := newWorld(t, porting.Rules{})
	ctx := context.Background()
	first := w.account(t, w.master, w.reseller.ID, `{"name":"First","realm":"pbx.acme.example"}`)
	if _, err := w.svc.CreateAccount(ctx, w.master, w.reseller.ID, fields(t, `{"name":"Second","realm":"PBX.Acme.example"}`)); !porting.IsKind(err, porting.KindValidation) {
		t.Errorf("create with a taken realm: %v, want a validation error", err)
	}
	second := w.account(t, w.master, w.reseller.ID, `{"name":"Second","realm":"other.acme.example"}`)
	if _, err := w.svc.UpdateAccount(ctx, w.master, second.ID, fields(t, `{"realm":"pbx.acme.example"}`)); !porting.IsKind(err, porting.KindValidation) {
		t.Errorf("edit to a taken realm: %v, want a validation error", err)
	}
	if _, err := w.svc.UpdateAccount(ctx, w.master, first.ID, fields(t, `{"realm":"PBX.acme.example","name":"First again"}`)); err != nil {
		t.Errorf("an account keeps its own realm: %v", err)
	}
}

// Kazoo 4.3's whitelabel port.authority names the port authority: the
// nearest setting on the way up from the account wins, a whitelabel
// setting over portreqd's flag on the same account; an account naming
// itself is passed over, as is an account that does not exist.
func TestWhitelabelPortAuthority(t *testing.T) {
	w := newWorld(t, porting.Rules{})
	ctx := context.Background()
	raw := w.store.(porting.RawStore)
	whitelabel := func(owner *porting.Account, authority string) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"port": map[string]any{"authority": authority}, "pvt_type": "whitelabel"})
		if err := raw.RawPut(ctx, porting.AccountDB(owner.ID), &porting.RawDoc{ID: "whitelabel", Body: body}, nil); err != nil {
			t.Fatal(err)
		}
	}
	want := func(what string, acct, authority *porting.Account) {
		t.Helper()
		got, err := w.svc.PortAuthority(ctx, acct.ID)
		if err != nil || got.ID != authority.ID {
			t.Errorf("%s: authority %v (%v), want %s", what, got, err, authority.Name)
		}
	}
	want("the flag alone", w.customer, w.reseller)
	whitelabel(w.reseller, w.stranger.ID)
	want("the reseller's whitelabel over its flag", w.customer, w.stranger)
	whitelabel(w.customer, w.customer.ID)
	want("the account naming itself, passed over", w.customer, w.stranger)
	whitelabel(w.customer, porting.EncodedDB(porting.AccountDB(w.master.ID)))
	want("the account's own whitelabel, an account database name", w.customer, w.master)
	whitelabel(w.customer, "ffffffffffffffffffffffffffffffff")
	whitelabel(w.reseller, "porting@reseller.example") // Kazoo 4.0: an e-mail address
	want("no account named: the flag", w.customer, w.reseller)
}

// Kazoo 3.x requests (no pvt_tree, no pvt_transitions) and soft-deleted
// ones: the first is served and moved with every member kept; the second
// is gone for the API and left as it is.
func TestKazoo3xAndSoftDeletedRequests(t *testing.T) {
	w := newWorld(t, porting.Rules{})
	ctx := context.Background()
	raw := w.store.(porting.RawStore)
	old := map[string]any{"_id": "3a3b3c3d3e3f30313233343536373839", "pvt_type": "port_request", "pvt_port_state": "unconfirmed",
		"pvt_account_id": w.customer.ID, "pvt_account_db": porting.EncodedDB(porting.AccountDB(w.customer.ID)),
		"name": "Kazoo 3.x port", "numbers": map[string]any{"+12025550131": map[string]any{}}, "pvt_created": 63600000000,
		"pvt_modified": 63600000000, "pvt_vsn": "1", "x_kazoo_3": "kept"}
	gone := map[string]any{"_id": "4a4b4c4d4e4f40414243444546474849", "pvt_type": "port_request", "pvt_port_state": "canceled",
		"pvt_account_id": w.customer.ID, "pvt_tree": []string{w.master.ID, w.reseller.ID}, "pvt_deleted": true, "name": "deleted"}
	for _, doc := range []map[string]any{old, gone} {
		b, _ := json.Marshal(doc)
		if err := raw.RawPut(ctx, "port_requests", &porting.RawDoc{ID: doc["_id"].(string), Body: b}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.svc.GetRequest(ctx, w.customer, w.customer.ID, gone["_id"].(string)); !porting.IsKind(err, porting.KindNotFound) {
		t.Errorf("a soft-deleted request: %v, want not found", err)
	}
	if r, err := w.svc.GetRequest(ctx, w.customer, w.customer.ID, old["_id"].(string)); err != nil || r.Name() != "Kazoo 3.x port" {
		t.Fatalf("the Kazoo 3.x request: %v, %v", r, err)
	}
	if _, err := w.svc.Transition(ctx, w.customer, w.customer.ID, old["_id"].(string), porting.Submitted, porting.TransitionInput{Data: porting.Fields{}}); err != nil {
		t.Fatalf("submitting the Kazoo 3.x request: %v", err)
	}
	stored, err := raw.RawGet(ctx, "port_requests", old["_id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	var after map[string]any
	_ = json.Unmarshal(stored.Body, &after)
	for k, v := range old {
		switch k {
		case "_id", "pvt_port_state", "pvt_modified":
			continue
		}
		want, _ := json.Marshal(v)
		got, _ := json.Marshal(after[k])
		if string(want) != string(got) {
			t.Errorf("member %s after a move: %s, Kazoo's %s", k, got, want)
		}
	}
	if g, err := raw.RawGet(ctx, "port_requests", gone["_id"].(string)); err != nil || !strings.Contains(string(g.Body), `"pvt_deleted":true`) {
		t.Errorf("the soft-deleted request changed: %v, %v", g, err)
	}
}

// echoingStore answers CreateClaims as a CouchDB cluster can under a race:
// the claims are written, and the answer says conflict.
type echoingStore struct{ porting.Store }

func (e echoingStore) CreateClaims(ctx context.Context, claims []*porting.Claim) ([]string, error) {
	if _, err := e.Store.CreateClaims(ctx, claims); err != nil {
		return nil, err
	}
	again := make([]*porting.Claim, len(claims))
	for i, c := range claims {
		cc := *c
		cc.Rev = ""
		again[i] = &cc
	}
	return e.Store.CreateClaims(ctx, again) // every one "taken"
}

// A claim reported taken that this request holds after all is its own: the
// submit goes through, and a cancel frees the number.
func TestClaimReportedTakenButOurs(t *testing.T) {
	w := newWorld(t, porting.Rules{})
	ctx := context.Background()
	svc := porting.NewService(porting.Config{Store: echoingStore{w.store}})
	r, err := svc.CreateRequest(ctx, w.customer, w.customer.ID, fields(t, `{"name":"echo","numbers":{"+12025550151":{}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Transition(ctx, w.customer, w.customer.ID, r.ID, porting.Submitted, porting.TransitionInput{Data: porting.Fields{}}); err != nil {
		t.Fatalf("submit with its own claims reported taken: %v", err)
	}
	claims, err := w.store.GetClaims(ctx, []string{"+12025550151"})
	if err != nil || claims["+12025550151"] == nil || claims["+12025550151"].RequestID != r.ID {
		t.Fatalf("claim after submit: %v, %v", claims, err)
	}
	if _, err := svc.Transition(ctx, w.reseller, w.customer.ID, r.ID, porting.Canceled, porting.TransitionInput{Data: porting.Fields{}}); err != nil {
		t.Fatal(err)
	}
	if claims, err := w.store.GetClaims(ctx, []string{"+12025550151"}); err != nil || len(claims) != 0 {
		t.Errorf("claim after cancel: %v, %v", claims, err)
	}
}

// splitStore is echoingStore where every copy's revisions also show
// another request's claim: the two racing writes both stood on some shard
// copy of a CouchDB cluster, and this request was told "conflict".
type splitStore struct{ echoingStore }

func (s splitStore) ClaimRevisions(ctx context.Context, numbers []string) (map[string][]*porting.Claim, error) {
	revs, err := s.Store.ClaimRevisions(ctx, numbers)
	if err != nil {
		return nil, err
	}
	for _, n := range numbers {
		revs[n] = append(revs[n], &porting.Claim{Number: n, RequestID: "the-other-racer", AccountID: "another-account", Rev: "1-ffff"})
	}
	return revs, nil
}

// A claim reported taken whose copies also hold another request's claim is
// lost: the submit is refused with Kazoo's number error, and this request's
// own revision is deleted, so the number is not held by a request that
// stays unconfirmed (TestClusterClaims found one so).
func TestClaimReportedTakenBesideAnother(t *testing.T) {
	w := newWorld(t, porting.Rules{})
	ctx := context.Background()
	svc := porting.NewService(porting.Config{Store: splitStore{echoingStore{w.store}}})
	r, err := svc.CreateRequest(ctx, w.customer, w.customer.ID, fields(t, `{"name":"split","numbers":{"+12025550152":{}}}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Transition(ctx, w.customer, w.customer.ID, r.ID, porting.Submitted, porting.TransitionInput{Data: porting.Fields{}})
	var pe *porting.Error
	if !errors.As(err, &pe) || pe.Kind != porting.KindInvalidRequest || !strings.Contains(fmt.Sprint(pe.Data), "Number is being ported for a different account") {
		t.Fatalf("submit beside another's claim: %v, want the number error", err)
	}
	if claims, err := w.store.GetClaims(ctx, []string{"+12025550152"}); err != nil || len(claims) != 0 {
		t.Errorf("this request's claim after the lost race: %v, %v; want released", claims, err)
	}
	if got, err := w.store.GetRequest(ctx, r.ID); err != nil || got.State != porting.Unconfirmed {
		t.Errorf("request after the lost race: %v, %v; want unconfirmed", got, err)
	}
}
