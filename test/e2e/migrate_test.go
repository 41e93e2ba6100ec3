package e2e

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// migrateStore runs `portreqd migrate` and returns its output.
func migrateStore(t *testing.T, from, to *env) string {
	t.Helper()
	args := []string{"migrate"}
	for _, side := range []struct {
		flag, prefixFlag string
		e                *env
	}{{"--from", "--from-db-prefix", from}, {"--to", "--to-db-prefix", to}} {
		if side.e.kind == storeBolt {
			args = append(args, side.flag, side.e.dataDir)
		} else {
			args = append(args, side.flag, side.e.couchURL, side.prefixFlag, side.e.prefix)
		}
	}
	out, err := exec.Command(binary, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "copying") || strings.Contains(string(out), "\r") {
		t.Errorf("migrate wrote progress frames into a pipe:\n%q", out)
	}
	return string(out)
}

var migrated = regexp.MustCompile(`(\d+) documents: (\d+) copied \((\d+) attachments\), (\d+) already equal, (\d+) verified`)

// answers reads what a client would see: every listing and every request.
func answers(t *testing.T, s *server, token, master string, accounts, ids []string) map[string]any {
	t.Helper()
	out := map[string]any{}
	get := func(path string, headers ...string) {
		r := s.do(t, "GET", path, token, nil, headers...).expect(t, 200)
		if r.Body != nil {
			out[path] = r.Body["data"]
		} else {
			out[path] = string(r.Raw)
		}
	}
	get("/v2/accounts/" + master + "/descendants")
	get("/v2/accounts/" + master + "/descendants/port_requests")
	for _, st := range []string{"unconfirmed", "submitted", "pending", "scheduled", "completed", "rejected", "canceled"} {
		get("/v2/accounts/" + master + "/descendants/port_requests/" + st)
	}
	for _, a := range accounts {
		get("/v2/accounts/" + a)
		get("/v2/accounts/" + a + "/port_requests")
		get("/v2/accounts/" + a + "/phone_numbers")
	}
	for i, id := range ids {
		acct := accounts[i%len(accounts)]
		get("/v2/accounts/" + acct + "/port_requests/" + id)
		get("/v2/accounts/" + acct + "/port_requests/" + id + "/attachments")
	}
	get("/v2/accounts/"+accounts[0]+"/port_requests/"+ids[0]+"/attachments/loa.pdf", "Accept", "application/pdf")
	return out
}

// TestMigrateBothWays fills the embedded store through the API, migrates it
// to CouchDB and back, and checks that every answer is identical on all
// three, and that running the migration again copies nothing.
func TestMigrateBothWays(t *testing.T) {
	bolt := newEnv(t, storeBolt)
	couch := newEnv(t, storeCouch)
	couch.secret = bolt.secret
	back := newEnv(t, storeBolt)
	back.secret = bolt.secret

	s := bolt.start(t, "--port-activation-charge", "1.5")
	mtok, master := s.login(t, bolt.apiKey)
	var accounts, ids []string
	for a := 0; a < 2; a++ {
		accounts = append(accounts, s.createAccount(t, mtok, master, fmt.Sprintf("Customer %d", a), nil))
	}
	walks := [][]string{{}, {"submitted"}, {"submitted", "pending"}, {"submitted", "pending", "scheduled"},
		{"submitted", "pending", "completed"}, {"submitted", "rejected"}, {"canceled"}}
	for i, walk := range walks {
		acct := accounts[i%len(accounts)]
		id := s.createRequest(t, mtok, acct, fmt.Sprintf("request %d", i), fmt.Sprintf("+1720555%04d", i))
		if i == 0 {
			s.do(t, "PUT", "/v2/accounts/"+acct+"/port_requests/"+id+"/attachments?filename=loa", mtok, minimalPDF, "Content-Type", "application/pdf").expect(t, 201)
		}
		for _, st := range walk {
			s.do(t, "PATCH", "/v2/accounts/"+acct+"/port_requests/"+id+"/"+st+"?accept_charges=true", mtok, nil).expect(t, 200)
		}
		ids = append(ids, id)
	}
	deleted := s.createRequest(t, mtok, accounts[0], "deleted", "+17205559999")
	s.do(t, "DELETE", "/v2/accounts/"+accounts[0]+"/port_requests/"+deleted, mtok, nil).expect(t, 200)
	want := answers(t, s, mtok, master, accounts, ids)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	out := migrateStore(t, bolt, couch)
	m := migrated.FindStringSubmatch(out)
	if m == nil || m[2] != m[5] || m[2] == "0" || m[3] != "1" {
		t.Fatalf("migrate to CouchDB:\n%s", out)
	}
	sc := couch.start(t)
	if diff := cmp.Diff(want, answers(t, sc, mtok, master, accounts, ids)); diff != "" {
		t.Errorf("CouchDB answers differ (-embedded +couchdb):\n%s", diff)
	}
	// The deleted request travelled too, and is still invisible.
	sc.do(t, "GET", "/v2/accounts/"+accounts[0]+"/port_requests/"+deleted, mtok, nil).expect(t, 404)
	// Claims travelled: the held number is still refused.
	r := sc.do(t, "PUT", "/v2/accounts/"+accounts[1]+"/port_requests", mtok, reqBody("dup", "+17205550001"))
	numberError(t, r, "+17205550001")
	if err := sc.stop(); err != nil {
		t.Fatal(err)
	}

	again := migrateStore(t, bolt, couch)
	if m2 := migrated.FindStringSubmatch(again); m2 == nil || m2[2] != "0" || m2[4] != m[1] {
		t.Errorf("second migration copied again:\n%s", again)
	}

	out = migrateStore(t, couch, back)
	if m := migrated.FindStringSubmatch(out); m == nil || m[2] != m[5] {
		t.Fatalf("migrate back:\n%s", out)
	}
	sb := back.start(t)
	if diff := cmp.Diff(want, answers(t, sb, mtok, master, accounts, ids)); diff != "" {
		t.Errorf("answers after the round trip differ (-embedded +back):\n%s", diff)
	}
	if !strings.Contains(out, "done:") {
		t.Errorf("no final count:\n%s", out)
	}
}
