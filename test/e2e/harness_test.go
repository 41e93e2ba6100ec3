// Package e2e drives the real portreqd binary over HTTP against a real
// CouchDB-compatible server (COUCHDB_URL, or couchdb:3 under -tags docker).
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

var binary string // built once in TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "portreqd-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "portreqd")
	if apiClient, err = newAPIClient(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "github.com/portreqd/portreqd/cmd/portreqd")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build portreqd:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one running portreqd process.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	URL    string
	logs   *syncBuffer
	exited chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// storeKind names the store a deployment runs on.
type storeKind string

const (
	storeCouch storeKind = "couchdb"  // CouchDB (COUCHDB_URL, or couchdb:3 under -tags docker)
	storeBolt  storeKind = "embedded" // the embedded store under --data-dir
)

// env is the configuration of a test deployment: one store (a database
// prefix on CouchDB, or a data directory) so that tests never see each
// other's data, and one token secret.
type env struct {
	kind     storeKind
	couchURL string
	prefix   string
	dataDir  string
	secret   string
	apiKey   string
	extra    []string
}

// forEachStore runs test once per store: differences between the stores
// are bugs, and the API must not be able to tell them apart.
func forEachStore(t *testing.T, test func(t *testing.T, e *env)) {
	for _, kind := range []storeKind{storeBolt, storeCouch} {
		t.Run(string(kind), func(t *testing.T) { test(t, newEnv(t, kind)) })
	}
}

func newEnv(t *testing.T, kind storeKind) *env {
	t.Helper()
	e := &env{
		kind:   kind,
		secret: "e2e-token-secret-0123456789abcdef-" + t.Name(),
		apiKey: "e2e-master-key-0123456789",
	}
	switch kind {
	case storeCouch:
		e.couchURL = couchdbtest.URL(t)
		t.Logf("CouchDB: %s", couchdbtest.Describe())
		e.prefix = couchdbtest.Prefix() + strings.ToLower(strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())) + "_"
		// Registered before any server of the test starts, so run after
		// they stop: the test's databases go, those made on demand too.
		// (The URL and prefix as made here: a test may route e through a
		// proxy it cuts.)
		url, prefix := e.couchURL, e.prefix
		t.Cleanup(func() { kazootest.DropPrefix(t, url, prefix) })
	case storeBolt:
		e.dataDir = t.TempDir()
	}
	return e
}

// storeArgs are the flags selecting e's store.
func (e *env) storeArgs() []string {
	if e.kind == storeBolt {
		return []string{"--data-dir", e.dataDir}
	}
	return []string{"--couchdb", e.couchURL, "--db-prefix", e.prefix}
}

// start runs the binary and waits until it listens.
func (e *env) start(t *testing.T, extra ...string) *server {
	t.Helper()
	args := append(append([]string{
		"--listen", "127.0.0.1:0"}, e.storeArgs()...),
		"--master-api-key", e.apiKey,
		"--token-secret", e.secret,
		"--shutdown-timeout", "5s")
	args = append(args, append(e.extra, extra...)...)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "PORTREQ_LOG_LEVEL=info")
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	s := &server{t: t, cmd: cmd, logs: &syncBuffer{}, exited: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start portreqd: %v", err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.logs.Write([]byte(line + "\n"))
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				addr <- rec.Addr
			}
		}
	}()
	go func() {
		err := cmd.Wait()
		pw.Close()
		s.exited <- err
	}()
	select {
	case a := <-addr:
		s.URL = "http://" + a
	case err := <-s.exited:
		t.Fatalf("portreqd exited before listening: %v\n%s", err, s.logs.String())
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("portreqd did not listen within 60s\n%s", s.logs.String())
	}
	t.Cleanup(func() {
		_ = s.stop()
		if t.Failed() {
			t.Logf("portreqd log (%s):\n%s", s.URL, tail(s.logs.String(), 40))
		}
	})
	return s
}

// tail returns the last n lines of text.
func tail(text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// stop sends SIGTERM and returns the exit error (nil for exit 0).
func (s *server) stop() error {
	if s.cmd.ProcessState != nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.exited:
		s.exited <- err
		return err
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		return fmt.Errorf("portreqd did not stop within 20s")
	}
}

// response is a decoded API answer.
type response struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any
}

func (r *response) data() map[string]any {
	d, _ := r.Body["data"].(map[string]any)
	return d
}

func (r *response) list() []any {
	d, _ := r.Body["data"].([]any)
	return d
}

// do sends method path with an optional JSON body (any value, marshalled;
// a string or []byte is sent raw) and the given token.
func (s *server) do(t *testing.T, method, path, token string, body any, headers ...string) *response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	ctx, cancel := context.WithTimeout(withTest(context.Background(), t), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := apiClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := &response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out.Body); err != nil {
			t.Fatalf("%s %s: body is not JSON: %v\n%s", method, path, err, raw)
		}
	}
	return out
}

// expect fails unless r has status code; it prints the body otherwise.
func (r *response) expect(t *testing.T, code int) *response {
	t.Helper()
	if r.Status != code {
		t.Fatalf("status %d, want %d; body: %s", r.Status, code, r.Raw)
	}
	return r
}

// login exchanges an API key for a token.
func (s *server) login(t *testing.T, apiKey string) (token, accountID string) {
	t.Helper()
	r := s.do(t, http.MethodPut, "/v2/api_auth", "", map[string]any{"data": map[string]any{"api_key": apiKey}}).expect(t, http.StatusCreated)
	token, _ = r.Body["auth_token"].(string)
	accountID, _ = r.data()["account_id"].(string)
	if token == "" || accountID == "" {
		t.Fatalf("api_auth answered no token or account: %s", r.Raw)
	}
	return token, accountID
}

// createAccount makes a sub-account of parent and returns its id.
func (s *server) createAccount(t *testing.T, token, parent, name string, extra map[string]any) string {
	t.Helper()
	data := map[string]any{"name": name}
	for k, v := range extra {
		data[k] = v
	}
	r := s.do(t, http.MethodPut, "/v2/accounts/"+parent, token, map[string]any{"data": data}).expect(t, http.StatusCreated)
	id, _ := r.data()["id"].(string)
	if id == "" {
		t.Fatalf("account create answered no id: %s", r.Raw)
	}
	return id
}
