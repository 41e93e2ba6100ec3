package browser

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
)

// buildPortreqd compiles the server under test into a temporary directory
// (with -race when this test binary has it, as test/e2e does).
func buildPortreqd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "portreqd")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "github.com/portreqd/portreqd/cmd/portreqd")
	cmd := exec.Command("go", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
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

// portreqd is one running server on the embedded store.
type portreqd struct {
	URL    string
	cmd    *exec.Cmd
	logs   *syncBuffer
	exited chan error
}

// startPortreqd runs bin on a fresh data directory, with extra flags, and
// waits until it logs that it listens.
func startPortreqd(t *testing.T, bin, apiKey, secret string, extra ...string) *portreqd {
	t.Helper()
	cmd := exec.Command(bin, append([]string{
		"--listen", "127.0.0.1:0",
		"--data-dir", t.TempDir(),
		"--master-api-key", apiKey,
		"--token-secret", secret,
		"--shutdown-timeout", "5s"}, extra...)...)
	cmd.Env = append(os.Environ(), "PORTREQ_LOG_LEVEL=info")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &portreqd{cmd: cmd, logs: &syncBuffer{}, exited: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start portreqd: %v", err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.logs.Write([]byte(line + "\n"))
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				select {
				case addr <- rec.Addr:
				default:
				}
			}
		}
	}()
	go func() {
		err := cmd.Wait()
		pw.Close()
		p.exited <- err
	}()
	select {
	case a := <-addr:
		p.URL = "http://" + a
	case err := <-p.exited:
		t.Fatalf("portreqd exited before listening: %v\n%s", err, p.logs.String())
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("portreqd did not listen within 60s\n%s", p.logs.String())
	}
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("portreqd stop: %v", err)
		}
		if t.Failed() {
			t.Logf("portreqd log, last lines:\n%s", tail(p.logs.String(), 60))
		}
	})
	return p
}

// stop sends SIGTERM and waits for the exit.
func (p *portreqd) stop() error {
	if p.cmd.ProcessState != nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		p.exited <- err
		return err
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		return fmt.Errorf("portreqd did not stop within 20s")
	}
}

// answer is a decoded portreqd response.
type answer struct {
	Status int
	Raw    []byte
	Body   map[string]any
}

func (a *answer) data() map[string]any {
	d, _ := a.Body["data"].(map[string]any)
	return d
}

// do calls portreqd directly (set-up only; the browser goes through the
// gateway) and fails the test unless it answers want.
func (p *portreqd) do(t *testing.T, method, path, token string, body any, want int) *answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, p.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := &answer{Status: resp.StatusCode, Raw: raw}
	_ = json.Unmarshal(raw, &a.Body)
	if a.Status != want {
		t.Fatalf("set-up: %s %s answered %d, want %d: %s", method, path, a.Status, want, raw)
	}
	return a
}

// login exchanges an API key for a token and the key's account.
func (p *portreqd) login(t *testing.T, apiKey string) (token, accountID string) {
	t.Helper()
	a := p.do(t, http.MethodPut, "/v2/api_auth", "", map[string]any{"data": map[string]any{"api_key": apiKey}}, http.StatusCreated)
	token, _ = a.Body["auth_token"].(string)
	accountID, _ = a.data()["account_id"].(string)
	if token == "" || accountID == "" {
		t.Fatalf("api_auth answered no token or account: %s", a.Raw)
	}
	if strings.Count(token, ".") != 2 {
		t.Fatalf("api_auth token %q is not JWT-shaped (Monster UI decodes it)", token)
	}
	return token, accountID
}

// tail returns the last n lines of text.
func tail(text string, n int) string {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
