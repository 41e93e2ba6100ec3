//go:build docker

package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Environment of TestComposeUp:
//
//	PORTREQ_TEST_COUCHDB_IMAGE    the CouchDB image couchdb/docker-image built
//	                              (portreqd/couchdb:*); .ci/docker-tests sets it
//	PORTREQ_TEST_COMPOSE          the compose command, e.g. "docker-compose"
//	                              (default: docker compose if the plugin
//	                              answers, else docker-compose)
//	PORTREQ_TEST_COMPOSE_PROJECT  the compose project name (default: one of
//	                              this process), so that a CI script can find
//	                              what a killed run left behind
//
// Without Docker, compose or the image the test skips, and fails under
// CI=true.
const (
	envCouchImage = "PORTREQ_TEST_COUCHDB_IMAGE"
	envCompose    = "PORTREQ_TEST_COMPOSE"
	envProject    = "PORTREQ_TEST_COMPOSE_PROJECT"

	// healthWait bounds how long both services may take to turn healthy.
	healthWait = 3 * time.Minute
)

// TestComposeUp brings docker-compose.yml up with the override for machines
// without a registry (deploy/compose.local.yml), waits for both services'
// health checks and drives the API through the port portreqd listens on,
// logging in with the master API key portreqd generated and printed: the
// newcomer's `docker compose up`, end to end.
func TestComposeUp(t *testing.T) {
	tool := composeCommand(t)
	image := os.Getenv(envCouchImage)
	if !strings.HasPrefix(image, "portreqd/couchdb:") {
		unavailable(t, envCouchImage+"="+strconv.Quote(image)+": want the image couchdb/docker-image builds (portreqd/couchdb:*)")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	buildBinary(t, root)

	apiPort, couchPort := freePort(t), freePort(t)
	project := os.Getenv(envProject)
	if project == "" {
		project = fmt.Sprintf("portreqd-compose-test-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	}
	st := &stack{
		t:       t,
		compose: tool,
		root:    root,
		project: project,
		env: map[string]string{
			"PORTREQ_COUCHDB_IMAGE":      image,
			"PORTREQ_LOCAL_PORT":         strconv.Itoa(apiPort),
			"PORTREQ_LOCAL_COUCHDB_PORT": strconv.Itoa(couchPort),
		},
	}
	// Registered before up: a half-started stack goes too.
	t.Cleanup(st.down)
	st.run(10*time.Minute, "up", "-d", "--build")
	st.waitHealthy(healthWait, "couchdb", "portreqd-local")
	// Neither PORTREQ_MASTER_API_KEY nor PORTREQ_TOKEN_SECRET is set, as on
	// a newcomer's first `docker compose up`: the key is in the log.
	masterKey := st.masterKey(30 * time.Second)

	api := &client{t: t, base: "http://127.0.0.1:" + strconv.Itoa(apiPort)}
	auth := api.do(http.MethodPut, "/v2/api_auth", "", map[string]any{"data": map[string]any{"api_key": masterKey}}, http.StatusCreated)
	token, _ := auth.Raw["auth_token"].(string)
	master, _ := auth.Data["account_id"].(string)
	if token == "" || master == "" {
		t.Fatalf("api_auth answered no token or account: %v", auth.Raw)
	}
	acct := api.do(http.MethodPut, "/v2/accounts/"+master, token, map[string]any{"data": map[string]any{"name": "compose test"}}, http.StatusCreated)
	acctID, _ := acct.Data["id"].(string)
	if acctID == "" {
		t.Fatalf("account create answered no id: %v", acct.Raw)
	}
	const number = "+12025550143"
	created := api.do(http.MethodPut, "/v2/accounts/"+acctID+"/port_requests", token,
		map[string]any{"data": map[string]any{"name": "compose port", "numbers": map[string]any{number: map[string]any{}}}}, http.StatusCreated)
	reqID, _ := created.Data["id"].(string)
	if reqID == "" {
		t.Fatalf("port request create answered no id: %v", created.Raw)
	}
	got := api.do(http.MethodGet, "/v2/accounts/"+acctID+"/port_requests/"+reqID, token, nil, http.StatusOK)
	want := map[string]any{"id": reqID, "name": "compose port", "port_state": "unconfirmed", "numbers": map[string]any{number: map[string]any{}}}
	have := map[string]any{}
	for k := range want {
		have[k] = got.Data[k]
	}
	if d := cmp.Diff(want, have); d != "" {
		t.Errorf("GET port request (-want +got):\n%s", d)
	}
	if got.Raw["auth_token"] != token {
		t.Errorf("envelope auth_token %v, want the request's token", got.Raw["auth_token"])
	}

	// The stack's CouchDB, not an embedded store, holds the account, and
	// runs with couchdb/local.ini (built into its image).
	couch := "http://admin:secret@127.0.0.1:" + strconv.Itoa(couchPort)
	var dbs []string
	getJSON(t, couch+"/_all_dbs", &dbs)
	acctDB := "account/" + acctID[:2] + "/" + acctID[2:4] + "/" + acctID[4:]
	if !slices.Contains(dbs, "accounts") || !slices.Contains(dbs, acctDB) {
		t.Errorf("CouchDB databases %v lack accounts and %s", dbs, acctDB)
	}
	var maxDoc string
	getJSON(t, couch+"/_node/_local/_config/couchdb/max_document_size", &maxDoc)
	if maxDoc != "67108864" {
		t.Errorf("CouchDB max_document_size %q, want couchdb/local.ini's 67108864", maxDoc)
	}
}

// unavailable skips the test, or fails it under CI=true, where a skipped
// compose test would hide a broken stack.
func unavailable(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why + " (CI=true)")
	}
	t.Skip(why)
}

// composeCommand finds docker compose (the v2 plugin) or docker-compose.
func composeCommand(t *testing.T) []string {
	t.Helper()
	if err := exec.Command("docker", "info").Run(); err != nil {
		unavailable(t, "docker info: "+err.Error())
	}
	if c := strings.Fields(os.Getenv(envCompose)); len(c) > 0 {
		return c
	}
	for _, c := range [][]string{{"docker", "compose"}, {"docker-compose"}} {
		if exec.Command(c[0], append(c[1:], "version")...).Run() == nil {
			return c
		}
	}
	unavailable(t, "neither docker compose nor docker-compose answers (set "+envCompose+")")
	return nil
}

// buildBinary builds the static binary deploy/local/Dockerfile copies.
func buildBinary(t *testing.T, root string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "timetzdata", "-o", filepath.Join(root, "deploy", "local", "portreqd"), "./cmd/portreqd")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
}

// stack is one compose project of docker-compose.yml with the local
// override.
type stack struct {
	t       *testing.T
	compose []string
	root    string
	project string
	env     map[string]string
}

// command runs compose with the project's files, name and environment.
func (s *stack) command(ctx context.Context, args ...string) *exec.Cmd {
	full := append(append([]string{}, s.compose[1:]...), "-p", s.project,
		"-f", filepath.Join(s.root, "docker-compose.yml"), "-f", filepath.Join(s.root, "deploy", "compose.local.yml"))
	cmd := exec.CommandContext(ctx, s.compose[0], append(full, args...)...)
	cmd.Dir = s.root
	for _, kv := range os.Environ() {
		// Nothing of the caller's compose or portreqd settings leaks in.
		if !strings.HasPrefix(kv, "PORTREQ_") && !strings.HasPrefix(kv, "COMPOSE_") && !strings.HasPrefix(kv, "COUCHDB_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range s.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// run runs compose and fails the test when it fails.
func (s *stack) run(timeout time.Duration, args ...string) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := s.command(ctx, args...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("compose %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// down removes the project's containers, volumes and images, after showing
// the logs of a failed run.
func (s *stack) down() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if s.t.Failed() {
		if out, err := s.command(ctx, "logs", "--no-color").CombinedOutput(); err == nil {
			s.t.Logf("compose logs:\n%s", out)
		}
	}
	if out, err := s.command(ctx, "down", "-v", "--rmi", "local").CombinedOutput(); err != nil {
		s.t.Errorf("compose down: %v\n%s", err, out)
	}
}

// waitHealthy waits until every service's container reports healthy, and
// fails once one stops or the wait is over.
func (s *stack) waitHealthy(wait time.Duration, services ...string) {
	s.t.Helper()
	deadline := time.Now().Add(wait)
	ids := map[string]string{}
	for _, svc := range services {
		ids[svc] = strings.TrimSpace(s.run(time.Minute, "ps", "-q", svc))
		if ids[svc] == "" {
			s.t.Fatalf("service %s has no container", svc)
		}
	}
	for {
		states := map[string]string{}
		healthy := 0
		for svc, id := range ids {
			out, err := exec.Command("docker", "inspect", "--format", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", id).Output()
			if err != nil {
				s.t.Fatalf("docker inspect %s (%s): %v", id, svc, err)
			}
			states[svc] = strings.TrimSpace(string(out))
			switch {
			case states[svc] == "running healthy":
				healthy++
			case !strings.HasPrefix(states[svc], "running"):
				s.t.Fatalf("service %s: %s", svc, states[svc])
			}
		}
		if healthy == len(ids) {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("not healthy after %v: %v", wait, states)
		}
		time.Sleep(time.Second)
	}
}

// generatedKey finds the generated master API key portreqd prints once
// it serves: the line after its announcement (compose prefixes each line
// with the service's name).
var generatedKey = regexp.MustCompile(`its API key, shown once[^\n]*\n[^\n]*?\b([0-9a-f]{64})\s*(?:\n|$)`)

// masterKey reads the generated master API key from portreqd-local's log,
// waiting for it at most wait.
func (s *stack) masterKey(wait time.Duration) string {
	s.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		logs := s.run(time.Minute, "logs", "--no-color", "portreqd-local")
		if m := generatedKey.FindStringSubmatch(logs); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no generated master API key in portreqd's log after %v:\n%s", wait, logs)
		}
		time.Sleep(time.Second)
	}
}

// client talks to the stack's portreqd.
type client struct {
	t    *testing.T
	base string
}

// answer is a decoded Crossbar envelope.
type answer struct {
	Raw  map[string]any
	Data map[string]any
}

// do sends a JSON request and checks the status and the envelope every
// answer carries.
func (c *client) do(method, path, token string, body any, status int) answer {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.StatusCode != status {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, status, raw)
	}
	var a answer
	if err := json.Unmarshal(raw, &a.Raw); err != nil {
		c.t.Fatalf("%s %s: not JSON: %v: %s", method, path, err, raw)
	}
	a.Data, _ = a.Raw["data"].(map[string]any)
	if id, _ := a.Raw["request_id"].(string); a.Raw["status"] != "success" || id == "" || a.Data == nil {
		c.t.Fatalf("%s %s: envelope without status success, request_id or data: %s", method, path, raw)
	}
	return a
}

// getJSON decodes the answer of a GET into v.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// freePort is a loopback TCP port free at the time of asking.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
