package kazoo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

// Documents portreqd writes give, in the Kazoo-compatible views it
// installs on CouchDB, the rows Kazoo's code looks for (views/kazoo/
// README.md): API-key login (accounts/listing_by_api), realm lookup,
// account names in listings (listing_by_simple_id), the authority's queue
// (agent_listing_by_state), the account-delete guard
// (active_port_request), the submitted-request crawler
// (listing_submitted) and Kazoo's number listings of the account
// (numbers/assigned_to in the number database, the account database's
// copy).
func TestPortreqdDocumentsInKazooViews(t *testing.T) {
	s := couchSite(t, couchdbtest.URL(t))
	st := s.replica(t)
	c := context.Background()
	clock := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).Unix()
	seq := 0
	svc := porting.NewService(porting.Config{Store: st,
		Clock: func() time.Time { clock++; return time.Unix(clock, 0) },
		IDs:   func() string { seq++; return fmt.Sprintf("%032x", 0xabc000+seq) }})
	master, _, err := svc.Bootstrap(c, "kazoo-views-master-key")
	if err != nil {
		t.Fatal(err)
	}
	reseller, err := svc.CreateAccount(c, master, master.ID, porting.Fields{"name": json.RawMessage(`"Reseller"`), "port_authority": json.RawMessage(`true`)})
	if err != nil {
		t.Fatal(err)
	}
	customer, err := svc.CreateAccount(c, reseller, reseller.ID, porting.Fields{"name": json.RawMessage(`"Customer"`), "realm": json.RawMessage(`"Cust.SIP.example.com"`)})
	if err != nil {
		t.Fatal(err)
	}
	r, err := svc.CreateRequest(c, customer, customer.ID, porting.Fields{"name": json.RawMessage(`"Port"`),
		"numbers": json.RawMessage(`{"+12025550191":{"used_by":"callflow"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if r, err = svc.Transition(c, customer, customer.ID, r.ID, porting.Submitted, porting.TransitionInput{Data: porting.Fields{}}); err != nil {
		t.Fatal(err)
	}

	rows := func(db, design, view string, q engine.Query) []string {
		t.Helper()
		var out []string
		err := s.raw.Query(ctx(t), s.prefix+db, design, view, q, func(row engine.Row) error {
			out = append(out, string(row.Key)+" "+string(row.Value))
			return nil
		})
		if err != nil {
			t.Fatalf("%s/_design/%s/_view/%s: %v", db, design, view, err)
		}
		return out
	}
	key := func(v any) []byte { b, _ := json.Marshal(v); return b }
	check := func(what string, got []string, want ...string) {
		t.Helper()
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", what, diff)
		}
	}
	check("accounts/listing_by_api", rows("accounts", "accounts", "listing_by_api", engine.Query{Key: key(customer.APIKey)}),
		string(key(customer.APIKey))+` {"account_id":"`+customer.ID+`"}`)
	check("accounts/listing_by_realm", rows("accounts", "accounts", "listing_by_realm", engine.Query{Key: key("cust.sip.example.com")}),
		`"cust.sip.example.com" {"account_id":"`+customer.ID+`","account_db":"`+porting.EncodedDB(porting.AccountDB(customer.ID))+`"}`)
	check("accounts/listing_by_simple_id", rows("accounts", "accounts", "listing_by_simple_id", engine.Query{Key: key(customer.ID)}),
		string(key(customer.ID))+` {"id":"`+customer.ID+`","name":"Customer","realm":"Cust.SIP.example.com"}`)
	check("port_requests/agent_listing_by_state", rows("port_requests", "port_requests", "agent_listing_by_state",
		engine.Query{StartKey: key([]any{reseller.ID}), EndKey: key([]any{reseller.ID, map[string]any{}})}),
		fmt.Sprintf(`["%s","submitted",%d] null`, reseller.ID, r.Modified))
	check("port_requests/active_port_request", rows("port_requests", "port_requests", "active_port_request", engine.Query{Key: key(customer.ID)}),
		string(key(customer.ID))+` "submitted"`)
	check("port_requests/listing_submitted", rows("port_requests", "port_requests", "listing_submitted", engine.Query{}),
		fmt.Sprintf(`["%s","%s"] null`, customer.ID, r.ID))

	// Completed: the number in service, in the number database and in the
	// account's, where Kazoo's number views find it.
	for _, to := range []porting.State{porting.Pending, porting.Completed} {
		if _, err = svc.Transition(c, reseller, customer.ID, r.ID, to, porting.TransitionInput{Data: porting.Fields{}}); err != nil {
			t.Fatal(err)
		}
	}
	check("numbers/assigned_to", rows(porting.NumberDB("+12025550191"), "numbers", "assigned_to", engine.Query{}),
		fmt.Sprintf(`["%s","+12025550191"] null`, customer.ID))
	check("account numbers/list_by_app", rows(porting.AccountDB(customer.ID), "numbers", "list_by_app", engine.Query{}),
		`"callflow" null`)
	check("port_requests/active_port_request after completion", rows("port_requests", "port_requests", "active_port_request", engine.Query{Key: key(customer.ID)}))
}
