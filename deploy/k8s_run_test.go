package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

// TestKubernetesDeploymentRuns holds the Deployment to what the portreqd
// binary really reads and serves: the binary is built, asked for its flags,
// and then started as the Deployment starts it — as many replicas as it
// asks for, at once, with its environment and the Secret's values — on a
// real CouchDB.
func TestKubernetesDeploymentRuns(t *testing.T) {
	m := loadManifests(t)
	c := m.portreqd(t)
	binary := buildPortreqd(t)

	t.Run("every variable is one portreqd reads", func(t *testing.T) {
		read := envNames(t, binary)
		for _, e := range c.Env {
			if !read[e.Name] && !slices.Contains(runtimeEnv(), e.Name) {
				t.Errorf("env %s is read by neither portreqd (%v) nor the Go runtime", e.Name, sortedKeys(read))
			}
		}
	})

	t.Run("replicas on one CouchDB", func(t *testing.T) {
		couchURL := couchdbtest.URL(t)
		t.Logf("CouchDB: %s", couchdbtest.Describe())
		prefix := couchdbtest.Prefix() + "k8s_"
		t.Cleanup(func() { kazootest.DropPrefix(t, couchURL, prefix) })

		env := m.resolvedEnv(t, c)
		// What differs from a pod: the CouchDB the test has (the Secret's
		// is an example), a database prefix of the test's own, and a free
		// port on loopback in place of the container's.
		env["PORTREQ_COUCHDB"] = couchURL
		env["PORTREQ_DB_PREFIX"] = prefix
		env["PORTREQ_LISTEN"] = "127.0.0.1:0"
		// The pod's writable /tmp (an emptyDir).
		env["TMPDIR"] = t.TempDir()
		// The image's working directory, which the pod cannot write: on
		// CouchDB nothing may be written there.
		workdir := t.TempDir()

		replicas := make([]*replica, m.deployment.Spec.Replicas)
		var wg sync.WaitGroup
		for i := range replicas {
			wg.Go(func() { replicas[i] = startReplica(t, binary, workdir, env) })
		}
		wg.Wait()
		for _, r := range replicas {
			if r.err != nil {
				t.Fatal(r.err)
			}
		}

		for i, r := range replicas {
			for kind, p := range probes(c) {
				switch {
				case p.HTTPGet != nil:
					resp, err := http.Get(r.url + p.HTTPGet.Path)
					if err != nil {
						t.Fatalf("replica %d, %s probe: %v", i, kind, err)
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						t.Errorf("replica %d, %s probe GET %s: %s", i, kind, p.HTTPGet.Path, resp.Status)
					}
				case p.TCPSocket != nil:
					conn, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
					if err != nil {
						t.Errorf("replica %d, %s probe: %v", i, kind, err)
						continue
					}
					conn.Close()
				default:
					t.Errorf("%s probe is neither httpGet nor tcpSocket", kind)
				}
			}
		}

		// The master API key from the Secret logs in on one replica, and
		// the token it gets (signed with the Secret's token secret) is good
		// on every other.
		token, account := login(t, replicas[0].url, env["PORTREQ_MASTER_API_KEY"])
		for i, r := range replicas {
			req, _ := http.NewRequest(http.MethodGet, r.url+"/v2/accounts/"+account, nil)
			req.Header.Set("X-Auth-Token", token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("replica %d refuses replica 0's token: %s", i, resp.Status)
			}
		}

		// SIGTERM, as the kubelet sends it after the preStop sleep: each
		// replica drains and exits 0.
		for i, r := range replicas {
			if err := r.stop(); err != nil {
				t.Errorf("replica %d on SIGTERM: %v\n%s", i, err, r.logs.String())
			}
		}
		if left, _ := os.ReadDir(workdir); len(left) > 0 {
			t.Errorf("portreqd on CouchDB wrote to its working directory, read-only in the pod: %v", left)
		}
	})
}

// runtimeEnv are variables the Deployment may set for the Go runtime.
func runtimeEnv() []string { return []string{"GOMEMLIMIT", "GOGC", "GODEBUG"} }

// buildPortreqd builds cmd/portreqd and returns the binary's path.
func buildPortreqd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "portreqd")
	build := exec.Command("go", "build", "-o", bin, "github.com/portreqd/portreqd/cmd/portreqd")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build portreqd: %v\n%s", err, out)
	}
	return bin
}

// envNames asks the binary for its flags (portreqd --help) and returns the
// PORTREQ_ variable each falls back to.
func envNames(t *testing.T, binary string) map[string]bool {
	t.Helper()
	out, err := exec.Command(binary, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("portreqd --help: %v\n%s", err, out)
	}
	names := map[string]bool{}
	for _, f := range regexp.MustCompile(`(?m)^\s+--[a-z][a-z0-9-]*.*\((PORTREQ_[A-Z0-9_]+)\)$`).FindAllStringSubmatch(string(out), -1) {
		names[f[1]] = true
	}
	for _, want := range []string{"PORTREQ_LISTEN", "PORTREQ_COUCHDB", "PORTREQ_SHUTDOWN_TIMEOUT"} {
		if !names[want] {
			t.Fatalf("portreqd --help lists no %s; its usage changed?\n%s", want, out)
		}
	}
	return names
}

// replica is one portreqd process started as a pod starts it.
type replica struct {
	cmd    *exec.Cmd
	url    string
	logs   *logBuffer
	exited chan error
	err    error // why it did not start
}

// logBuffer keeps a replica's log for failure messages.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startReplica runs binary in dir with exactly env (nothing inherited) and
// waits until it listens; r.err says why it did not. It is stopped when
// the test ends.
func startReplica(t *testing.T, binary, dir string, env map[string]string) *replica {
	t.Helper()
	cmd := exec.Command(binary)
	cmd.Dir = dir
	for _, k := range slices.Sorted(maps.Keys(env)) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	r := &replica{cmd: cmd, logs: &logBuffer{}, exited: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		r.err = err
		return r
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			r.logs.Write(append(sc.Bytes(), '\n'))
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
				addr <- rec.Addr
			}
		}
	}()
	go func() {
		err := cmd.Wait()
		pw.Close()
		r.exited <- err
	}()
	t.Cleanup(func() { _ = r.stop() })
	select {
	case a := <-addr:
		r.url = "http://" + a
	case err := <-r.exited:
		r.exited <- err
		r.err = fmt.Errorf("portreqd exited before listening: %v\n%s", err, r.logs.String())
	case <-time.After(time.Minute):
		r.err = fmt.Errorf("portreqd did not listen within a minute\n%s", r.logs.String())
	}
	return r
}

// stop sends SIGTERM and returns how the process ended (nil: exit 0).
func (r *replica) stop() error {
	if r.cmd.Process == nil {
		return nil
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-r.exited:
		r.exited <- err
		return err
	case <-time.After(time.Minute):
		_ = r.cmd.Process.Kill()
		return fmt.Errorf("portreqd did not stop within a minute of SIGTERM")
	}
}

// login exchanges an API key for a token and the account's id.
func login(t *testing.T, base, apiKey string) (token, account string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"data": map[string]string{"api_key": apiKey}})
	req, _ := http.NewRequest(http.MethodPut, base+"/v2/api_auth", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AuthToken string `json:"auth_token"`
		Data      struct {
			AccountID string `json:"account_id"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated || out.AuthToken == "" {
		t.Fatalf("api_auth with the Secret's master key: %s, %+v, %v", resp.Status, out, err)
	}
	return out.AuthToken, out.Data.AccountID
}
