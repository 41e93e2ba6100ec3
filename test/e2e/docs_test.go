package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portreqd/portreqd/test/doctest"
)

// TestDocsExamples runs every example of docs/api.md, in order, as written
// (the shell runs the command text), against a real portreqd, and checks
// each answer's status, documented headers and body (doctest.Match).
// Placeholders an answer binds ($TOKEN, $REQUEST_ID…) are in the
// environment of the commands after it. The route coverage of the
// examples is checked in pkg/api (TestDocsCoverEveryRoute).
func TestDocsExamples(t *testing.T) { forEachStore(t, testDocsExamples) }

func testDocsExamples(t *testing.T, e *env) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "api.md"))
	if err != nil {
		t.Fatal(err)
	}
	examples, err := doctest.Parse(string(doc))
	if err != nil {
		t.Fatalf("docs/api.md: %v", err)
	}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)
	if e.kind == storeCouch {
		// Registered before the server starts, so run after it stops.
		t.Cleanup(func() { dropDatabases(t, e.couchURL, e.prefix) })
	}
	s := e.start(t, "--webhook-allow-private",
		"--lnp-table", filepath.Join(root, "deploy", "lnp", "sample-npanxx.csv"))
	vars := map[string]string{
		"PORTREQD": s.URL,
		"API_KEY":  e.apiKey,
		"RECEIVER": receiver.URL + "/port-events",
	}
	// The commands run in a scratch directory (they write small files)
	// that sees the repository's docs/ (they send docs/loa-example.png).
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(root, "docs"), filepath.Join(dir, "docs")); err != nil {
		t.Fatal(err)
	}
	for _, ex := range examples {
		// An answer that is read may lag a write for a moment (views,
		// deliveries made by the worker): reads are retried for a while.
		deadline := time.Now().Add(20 * time.Second)
		for {
			bound, err := runExample(t, dir, ex, vars)
			if err == nil {
				vars = bound
				break
			}
			if ex.Method != http.MethodGet || time.Now().After(deadline) {
				// Later examples may fail for want of this one's answer;
				// the first failure is the one to read.
				t.Errorf("docs/api.md:%d: %s %s: %v\ncommand:\n%s", ex.Line, ex.Method, ex.Path, err, ex.Command)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	if !t.Failed() {
		t.Logf("%d examples of docs/api.md answered as documented", len(examples))
	}
}

// dropDatabases deletes the CouchDB databases whose names start with
// prefix: what one deployment of the test created.
func dropDatabases(t *testing.T, couchURL, prefix string) {
	t.Helper()
	resp, err := http.Get(strings.TrimSuffix(couchURL, "/") + "/_all_dbs")
	if err != nil {
		t.Errorf("list databases: %v", err)
		return
	}
	defer resp.Body.Close()
	var names []string
	if err := json.NewDecoder(resp.Body).Decode(&names); err != nil {
		t.Errorf("list databases: %v", err)
		return
	}
	for _, name := range names {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		req, err := http.NewRequest(http.MethodDelete, strings.TrimSuffix(couchURL, "/")+"/"+url.QueryEscape(name), nil)
		if err != nil {
			t.Errorf("delete %s: %v", name, err)
			continue
		}
		del, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("delete %s: %v", name, err)
			continue
		}
		del.Body.Close()
		if del.StatusCode != http.StatusOK && del.StatusCode != http.StatusAccepted {
			t.Errorf("delete %s: %s", name, del.Status)
		}
	}
}

// runExample runs one example's command with sh in dir
// and matches its answer; curl is wrapped only to write the answer's
// status line and headers to a file.
func runExample(t *testing.T, dir string, ex doctest.Example, vars map[string]string) (map[string]string, error) {
	t.Helper()
	headers := filepath.Join(t.TempDir(), "headers")
	script := `curl() { command curl -sS -D "$DOCTEST_HEADERS" "$@"; }` + "\n" + ex.Command + "\n"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DOCTEST_HEADERS="+headers)
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return vars, fmt.Errorf("command failed: %v: %s", err, stderr.String())
	}
	status, header, err := readHeaders(headers)
	if err != nil {
		return vars, err
	}
	if status != ex.Status {
		return vars, fmt.Errorf("status %d, documented %d; body %s", status, ex.Status, abbreviate(stdout.String()))
	}
	for name, want := range ex.Header {
		if got := header.Get(name); !headerMatches(want, got, vars) {
			return vars, fmt.Errorf("header %s: %q, documented %q", name, got, want)
		}
	}
	return doctest.Match(ex.Body, stdout.String(), vars)
}

// headerMatches matches a documented header value as Match matches a string.
func headerMatches(want, got string, vars map[string]string) bool {
	_, err := doctest.Match(strconv.Quote(want), strconv.Quote(got), vars)
	return err == nil
}

// readHeaders reads the last answer's status and headers curl wrote with -D.
func readHeaders(path string) (int, http.Header, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, nil, fmt.Errorf("no answer headers: %v", err)
	}
	status, header := 0, http.Header{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.HasPrefix(line, "HTTP/") {
			fields := strings.Fields(line)
			if len(fields) < 2 {
				return 0, nil, fmt.Errorf("bad status line %q", line)
			}
			if status, err = strconv.Atoi(fields[1]); err != nil {
				return 0, nil, fmt.Errorf("bad status line %q", line)
			}
			header = http.Header{}
			continue
		}
		if name, value, ok := strings.Cut(line, ":"); ok {
			header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
		}
	}
	return status, header, nil
}

func abbreviate(s string) string {
	if len(s) > 800 {
		return s[:800] + "…"
	}
	return s
}
