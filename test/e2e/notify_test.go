package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portreqd/portreqd/test/smtptest"
)

// TestEventsSurviveKill9 submits a request while the mail relay refuses
// everything, kills portreqd with SIGKILL, brings the relay back and
// starts portreqd again: the submission's two mails (the submitter's and
// the authority's) arrive, each exactly once. The event was written with
// the submission, so nothing between the change and the delivery can
// lose it.
func TestEventsSurviveKill9(t *testing.T) { forEachStore(t, testEventsSurviveKill9) }

func testEventsSurviveKill9(t *testing.T, e *env) {
	mb := smtptest.New(t)
	mb.SetDown(true)
	args := []string{"--smtp-addr", mb.Addr, "--smtp-tls", "none", "--smtp-from", "porting@portreqd.test", "--notify-default-to", "ports@carrier.test"}
	s := e.start(t, args...)
	mtok, master := s.login(t, e.apiKey)
	tok, acct := s.customer(t, mtok, master, "Mail Customer")
	body := reqBody("mailed", "+13125550160")
	body["data"].(map[string]any)["notifications"] = map[string]any{"email": map[string]any{"send_to": "customer@example.test"}}
	id, _ := s.do(t, "PUT", "/v2/accounts/"+acct+"/port_requests", tok, body).expect(t, http.StatusCreated).data()["id"].(string)
	s.do(t, "PATCH", "/v2/accounts/"+acct+"/port_requests/"+id+"/submitted", tok, nil).expect(t, 200)
	time.Sleep(1500 * time.Millisecond) // the worker tries, and the relay refuses
	s.kill9(t)
	if got := mb.Take(); len(got) != 0 {
		t.Fatalf("the relay accepted %d mails while down", len(got))
	}

	mb.SetDown(false)
	e.start(t, args...) // the restarted portreqd delivers what the killed one could not
	var got []smtptest.Received
	deadline := time.Now().Add(time.Minute)
	for len(got) < 2 && time.Now().Before(deadline) {
		got = append(got, mb.Take()...)
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // anything sent twice would come now
	got = append(got, mb.Take()...)
	var to, ids []string
	for _, m := range got {
		to = append(to, strings.Join(m.To, ","))
		ids = append(ids, m.Msg.Header.Get("Message-Id"))
	}
	slices.Sort(to)
	if fmt.Sprint(to) != "[customer@example.test ports@carrier.test]" {
		t.Fatalf("after the restart: mails to %v (ids %v), want one to the submitter and one to the authority", to, ids)
	}
	if ids[0] == ids[1] {
		t.Errorf("both mails have Message-ID %s", ids[0])
	}
	for _, m := range got {
		if text, _, _ := smtptest.Parts(t, m); !strings.Contains(text, id) {
			t.Errorf("mail to %v does not name the request: %q", m.To, text)
		}
	}
}

// TestEventsDeliveredOnceByTwoReplicas runs two portreqds on one CouchDB
// with one relay: submissions made through either are mailed once each
// (two mails per submission, no duplicate Message-ID), whichever replica
// delivers them.
func TestEventsDeliveredOnceByTwoReplicas(t *testing.T) {
	e := newEnv(t, storeCouch)
	mb := smtptest.New(t)
	args := []string{"--smtp-addr", mb.Addr, "--smtp-tls", "none", "--notify-default-to", "ports@carrier.test"}
	a, b := e.start(t, args...), e.start(t, args...)
	mtok, master := a.login(t, e.apiKey)
	tok, acct := a.customer(t, mtok, master, "Two Replicas")
	const n = 6
	for i := range n {
		s := []*server{a, b}[i%2]
		body := reqBody(fmt.Sprintf("replicas %d", i), fmt.Sprintf("+1312555%04d", 170+i))
		body["data"].(map[string]any)["notifications"] = map[string]any{"email": map[string]any{"send_to": "customer@example.test"}}
		id, _ := s.do(t, "PUT", "/v2/accounts/"+acct+"/port_requests", tok, body).expect(t, http.StatusCreated).data()["id"].(string)
		s.do(t, "PATCH", "/v2/accounts/"+acct+"/port_requests/"+id+"/submitted", tok, nil).expect(t, 200)
	}
	var got []smtptest.Received
	deadline := time.Now().Add(time.Minute)
	for len(got) < 2*n && time.Now().Before(deadline) {
		got = append(got, mb.Take()...)
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(3 * time.Second) // a duplicate would arrive now
	got = append(got, mb.Take()...)
	seen := map[string]bool{}
	for _, m := range got {
		id := m.Msg.Header.Get("Message-Id")
		if seen[id] {
			t.Errorf("mail %s sent twice", id)
		}
		seen[id] = true
	}
	if len(got) != 2*n {
		t.Fatalf("%d mails for %d submissions, want %d", len(got), n, 2*n)
	}
}
