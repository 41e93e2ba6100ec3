package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

func noEnv(string) string { return "" }

// Help is no failure: it exits 0 and names the commands and the
// environment variables; an unknown command is an error.
func TestHelp(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"master-key show|rotate", "migrate --from", "PORTREQ_LISTEN", "PORTREQ_STORE_WAIT"}},
		{[]string{"-h"}, []string{"portreqd help [command]"}},
		{[]string{"help"}, []string{"replicate --site", "PORTREQ_COUCHDB"}},
		{[]string{"help", "migrate"}, []string{"--from", "--to-db-prefix"}},
		{[]string{"migrate", "--help"}, []string{"Usage: portreqd migrate"}},
		{[]string{"help", "master-key"}, []string{"--key", "(PORTREQ_DATA_DIR)"}},
		{[]string{"replicate", "-h"}, []string{"--site"}},
		{[]string{"healthcheck", "--help"}, []string{"(PORTREQ_LISTEN)"}},
	} {
		var out bytes.Buffer
		if err := run(context.Background(), tt.args, noEnv, &out); err != nil {
			t.Errorf("%v: %v, want exit 0", tt.args, err)
		}
		for _, w := range tt.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%v: the help does not mention %q:\n%s", tt.args, w, out.String())
			}
		}
	}
	if err := run(context.Background(), []string{"help", "nosuch"}, noEnv, &bytes.Buffer{}); err == nil {
		t.Error("help nosuch: no error")
	}
}

// A generated master key is printed once the API answers (whatever the
// log level) and kept in a 0600 file; a busy port creates nothing;
// `master-key show` and `rotate` work on the store; a --master-api-key
// the stored master lacks is reported; the generated token key outlives
// a restart.
func TestMasterKeyCannotBeLost(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), []string{"--data-dir", dir, "--listen", busy.Addr().String()}, noEnv, &bytes.Buffer{})
	busy.Close()
	if err == nil {
		t.Fatal("a busy port: no error")
	}
	if _, statErr := os.Stat(dir); !os.IsNotExist(statErr) {
		t.Errorf("a start that could not listen made %s (%v): a master made then may never be announced", dir, statErr)
	}

	ctx, cancel := context.WithCancel(context.Background())
	addr, out, done := startQuiet(t, ctx, []string{"--data-dir", dir})
	key := printedKey.FindString(out.String())
	fileKey, err := os.ReadFile(filepath.Join(dir, masterKeyFile))
	if err != nil || strings.TrimSpace(string(fileKey)) != key {
		t.Fatalf("key file holds %q (%v), want the printed key", fileKey, err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, masterKeyFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	account, token, _ := strings.Cut(login(t, addr, key, http.StatusCreated), " ")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("portreqd stopped with %v", err)
	}

	var show bytes.Buffer
	if err := run(context.Background(), []string{"master-key", "show", "--data-dir", dir}, noEnv, &show); err != nil || !strings.Contains(show.String(), key) {
		t.Fatalf("master-key show: %v\n%s", err, show.String())
	}
	const newKey = "rotated-master-key-0123456789"
	var rot bytes.Buffer
	if err := run(context.Background(), []string{"master-key", "rotate", "--key", newKey, "--data-dir", dir}, noEnv, &rot); err != nil {
		t.Fatalf("master-key rotate: %v\n%s", err, rot.String())
	}
	if b, _ := os.ReadFile(filepath.Join(dir, masterKeyFile)); strings.TrimSpace(string(b)) != newKey {
		t.Errorf("after rotate the key file holds %q", b)
	}

	addr, out = startPortreqd(t, []string{"--data-dir", dir, "--master-api-key", "some-other-key-0123456789"}, noEnv)
	login(t, addr, key, http.StatusUnauthorized)
	login(t, addr, newKey, http.StatusCreated)
	if !strings.Contains(out.String(), "--master-api-key differs from the stored master key") {
		t.Errorf("a --master-api-key the master lacks went unreported:\n%s", out.String())
	}
	if strings.Contains(out.String(), newKey) {
		t.Errorf("the stored key appears in the log:\n%s", out.String())
	}
	// The token from before the restart still opens the account.
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/v2/accounts/"+account+"/children", nil)
	req.Header.Set("X-Auth-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("a token from before the restart: %d, want 200 (the token key is kept)", resp.StatusCode)
	}
}

// startQuiet runs portreqd with args at --log-level error on a free
// port until ctx ends, and returns its address once it printed the master
// key (the only output at that level, printed once the API serves).
func startQuiet(t *testing.T, ctx context.Context, args []string) (string, *lockedBuffer, <-chan error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	out := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"--listen", addr, "--log-level", "error"}, args...), noEnv, out)
	}()
	deadline := time.Now().Add(time.Minute)
	for !printedKey.MatchString(out.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no master key printed within a minute:\n%s", out.String())
		}
		select {
		case err := <-done:
			t.Fatalf("portreqd stopped: %v\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return addr, out, done
}

var printedKey = regexp.MustCompile(`(?m)^[0-9a-f]{64}$`)

// login asks api_auth for a token with key and checks the status.
func login(t *testing.T, addr, key string, want int) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"data": map[string]string{"api_key": key}})
	req, _ := http.NewRequest(http.MethodPut, "http://"+addr+"/v2/api_auth", bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		AuthToken string `json:"auth_token"`
		Data      struct {
			AccountID string `json:"account_id"`
		} `json:"data"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&env)
	if resp.StatusCode != want {
		t.Fatalf("api_auth with %.6s…: %d, want %d", key, resp.StatusCode, want)
	}
	return env.Data.AccountID + " " + env.AuthToken
}

// A CouchDB that answers only after a while is waited for, each attempt
// logged; refused credentials fail at once, and say so.
func TestStartWaitsForCouchDB(t *testing.T) {
	real := couchdbtest.URL(t)
	target, err := url.Parse(real)
	if err != nil {
		t.Fatal(err)
	}
	prefix := couchdbtest.Prefix() + "wait_"
	t.Cleanup(func() { kazootest.DropPrefix(t, real, prefix) })

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	late := l.Addr().String()
	l.Close()
	proxied := *target
	proxied.Host = late
	go func() { // CouchDB "starts" two seconds later
		time.Sleep(2 * time.Second)
		ln, err := net.Listen("tcp", late)
		if err != nil {
			t.Errorf("the late CouchDB cannot listen: %v", err)
			return
		}
		srv := &http.Server{Handler: httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})}
		t.Cleanup(func() { srv.Close() })
		_ = srv.Serve(ln)
	}()
	_, out := startPortreqd(t, []string{"--couchdb", proxied.String(), "--db-prefix", prefix, "--store-wait", "1m",
		"--token-secret", "wait-token-secret-0123456789abcdef0123456789"}, noEnv)
	if !strings.Contains(out.String(), "the store does not answer yet; waiting") {
		t.Errorf("no wait logged:\n%s", out.String())
	}
	if strings.Contains(out.String(), target.User.String()+"@") {
		t.Errorf("the CouchDB password is in the log:\n%s", out.String())
	}

	wrong := *target
	wrong.User = url.UserPassword(target.User.Username(), "not-the-password")
	var refused bytes.Buffer
	err = run(context.Background(), []string{"--couchdb", wrong.String(), "--db-prefix", prefix, "--listen", "127.0.0.1:0", "--store-wait", "1m"}, noEnv, &refused)
	if err == nil || !strings.Contains(err.Error(), "credentials refused") || strings.Contains(err.Error(), "not-the-password") {
		t.Errorf("a wrong password: %v, want \"credentials refused\" without the password", err)
	}
	if strings.Contains(refused.String(), "waiting") {
		t.Errorf("a wrong password was waited on:\n%s", refused.String())
	}
}
