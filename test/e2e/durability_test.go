package e2e

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// kill9 ends the process at once, as a crash or the OOM killer would.
func (s *server) kill9(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("portreqd survived SIGKILL")
	}
}

// TestAcknowledgedWritesSurviveKill9 writes through the embedded store,
// kills the process the moment the responses arrive, restarts it on the same
// data directory and reads everything back.
func TestAcknowledgedWritesSurviveKill9(t *testing.T) {
	e := newEnv(t, storeBolt)
	s := e.start(t)
	mtok, master := s.login(t, e.apiKey)
	tok, acct := s.customer(t, mtok, master, "Durable")
	id := s.createRequest(t, tok, acct, "durable", "+13035550100")
	s.do(t, "PUT", "/v2/accounts/"+acct+"/port_requests/"+id+"/attachments?filename=loa", tok, minimalPDF, "Content-Type", "application/pdf").expect(t, 201)
	s.do(t, "PATCH", "/v2/accounts/"+acct+"/port_requests/"+id+"/submitted", tok, nil).expect(t, 200)
	s.kill9(t)

	s2 := e.start(t)
	got := s2.do(t, "GET", "/v2/accounts/"+acct+"/port_requests/"+id, tok, nil).expect(t, 200)
	if got.data()["port_state"] != "submitted" {
		t.Errorf("after kill -9: %s", got.Raw)
	}
	pdf := s2.do(t, "GET", "/v2/accounts/"+acct+"/port_requests/"+id+"/attachments/loa.pdf", tok, nil, "Accept", "application/pdf").expect(t, 200)
	if string(pdf.Raw) != string(minimalPDF) {
		t.Errorf("attachment after kill -9: %q", pdf.Raw)
	}
	// The claim survived too: the number is still held.
	other := s2.createRequest(t, tok, acct, "other", "+13035550101")
	r := s2.do(t, "POST", "/v2/accounts/"+acct+"/port_requests/"+other, tok, reqBody("other", "+13035550100"))
	if msg := numberError(t, r, "+13035550100"); msg != "Number is on a port request already: "+id {
		t.Errorf("claim after kill -9: %q", msg)
	}
}

// TestSecondProcessRefused starts two portreqd on one data directory: the
// second must fail at start with a clear message, not corrupt or hang.
func TestSecondProcessRefused(t *testing.T) {
	e := newEnv(t, storeBolt)
	s := e.start(t)
	s.login(t, e.apiKey)

	cmd := exec.Command(binary, "--listen", "127.0.0.1:0", "--data-dir", e.dataDir)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the second process hung")
	}
	if err == nil {
		t.Fatalf("the second process started:\n%s", out)
	}
	if !strings.Contains(string(out), "in use by another") {
		t.Errorf("unclear message:\n%s", out)
	}
	// The first one still serves.
	s.do(t, "GET", "/healthz", "", nil).expect(t, 200)
}
