package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLegacyDataDirUpgraded starts the binary on a data directory written by
// the embedded store portreqd had before the document engine (the fixture
// pkg/engine/bolt/testdata/legacy-v1.db, made by that store): it upgrades
// once, logged, keeps the old file as a backup, and serves the same
// accounts, requests and attachment bytes, which stay writable.
func TestLegacyDataDirUpgraded(t *testing.T) {
	const (
		customer    = "6b71cb17a3e2c4d1f0a9b8c7d6e50003"
		unconfirmed = "6b71cb17a3e2c4d1f0a9b8c7d6e5a001"
		submitted   = "6b71cb17a3e2c4d1f0a9b8c7d6e5a002"
		softDeleted = "6b71cb17a3e2c4d1f0a9b8c7d6e5a004"
	)
	e := newEnv(t, storeBolt)
	fixture, err := os.ReadFile(filepath.Join("..", "..", "pkg", "engine", "bolt", "testdata", "legacy-v1.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dataDir, "portreqd.db"), fixture, 0o600); err != nil {
		t.Fatal(err)
	}

	s := e.start(t)
	if n := strings.Count(s.logs.String(), `"legacy store upgraded"`); n != 1 {
		t.Errorf("%d upgrade log lines, want 1:\n%s", n, s.logs.String())
	}
	if _, err := os.Stat(filepath.Join(e.dataDir, "portreqd.db.pre-engine")); err != nil {
		t.Errorf("backup of the old file: %v", err)
	}
	tok, acct := s.login(t, "key-customer") // the API key the old store held
	if acct != customer {
		t.Fatalf("logged in as %s, want %s", acct, customer)
	}
	base := "/v2/accounts/" + customer + "/port_requests/"
	got := s.do(t, "GET", base+submitted, tok, nil).expect(t, 200)
	if got.data()["port_state"] != "submitted" || got.data()["name"] != "Port "+submitted {
		t.Errorf("submitted request after the upgrade: %s", got.Raw)
	}
	pdf := s.do(t, "GET", base+submitted+"/attachments/bill.pdf", tok, nil, "Accept", "application/pdf").expect(t, 200)
	want := make([]byte, 100000)
	for i := range want {
		want[i] = byte(i % 251)
	}
	if !bytes.Equal(pdf.Raw, want) {
		t.Errorf("bill.pdf after the upgrade: %d bytes, not the stored pattern", len(pdf.Raw))
	}
	s.do(t, "GET", base+softDeleted, tok, nil).expect(t, 404)
	// The views are built from the copied documents.
	byNumber := s.do(t, "GET", "/v2/accounts/"+customer+"/port_requests?by_number=%2B12025550101", tok, nil).expect(t, 200)
	if ids := rowIDs(byNumber.list()); len(ids) != 1 || ids[0] != submitted {
		t.Errorf("by_number after the upgrade: %s", byNumber.Raw)
	}
	s.do(t, "POST", base+unconfirmed, tok, reqBody("renamed", "+12025550110")).expect(t, 200)

	// A restart opens the engine file: no second upgrade, the edit kept.
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	s2 := e.start(t)
	if strings.Contains(s2.logs.String(), "legacy store upgraded") {
		t.Errorf("upgraded twice:\n%s", s2.logs.String())
	}
	if got := s2.do(t, "GET", base+unconfirmed, tok, nil).expect(t, 200); got.data()["name"] != "renamed" {
		t.Errorf("edit after restart: %s", got.Raw)
	}
}
