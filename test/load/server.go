package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// server is a portreqd binary this tool built and started.
type server struct {
	url       string
	debugAddr string
	cmd       *exec.Cmd
	dir       string
	exited    chan error

	mu       sync.Mutex
	problems []string // warn and error log lines, masked
	nProblem int
}

// serverOptions says which store the started portreqd uses: CouchDB at a
// database prefix, or the embedded store in dataDir.
type serverOptions struct {
	couch     *couchServer
	prefix    string
	dataDir   string
	apiKey    string
	debugAddr string // --debug-addr (pprof) when not empty
	couchURL  string // --couchdb instead of couch's own URL (the counting proxy)
}

// startServer builds cmd/portreqd and runs it on the store of o, with
// logging at warn so that the access log (one info line per request) costs
// the measured server nothing.
//
// At warn, portreqd does not print its info-level "listening" line, so the
// tool cannot learn a port chosen by --listen 127.0.0.1:0. It reserves a
// free loopback port itself and passes that instead (a port another
// process grabs in between makes portreqd exit, which is reported); it
// still prefers the "listening" line's addr should one appear, and waits
// for /healthz to answer 200, which also proves the store is reachable.
func startServer(ctx context.Context, o serverOptions, stderr io.Writer) (*server, error) {
	dir, err := os.MkdirTemp("", "portreqd-load")
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "portreqd")
	// The import path, not ./cmd/portreqd, so that the tool works from any
	// directory inside the module.
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/portreqd/portreqd/cmd/portreqd")
	build.Stdout, build.Stderr = stderr, stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("build portreqd: %w", err)
	}
	listen, err := freeLoopbackAddr()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	args := []string{
		"--listen", listen,
		"--master-api-key", o.apiKey,
		"--token-secret", randomHex(32),
		"--log-level", "warn",
	}
	password := ""
	if o.couch != nil {
		raw := o.couch.raw
		if o.couchURL != "" {
			raw = o.couchURL
		}
		args = append(args, "--couchdb", raw, "--db-prefix", o.prefix)
		password = passwordOf(o.couch.raw)
	} else {
		args = append(args, "--data-dir", o.dataDir)
	}
	if o.debugAddr != "" {
		args = append(args, "--debug-addr", o.debugAddr)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = cleanEnv()
	cmd.SysProcAttr = childAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start portreqd: %w", err)
	}
	s := &server{cmd: cmd, dir: dir, exited: make(chan error, 1), debugAddr: o.debugAddr}
	addr := make(chan string, 1)
	scanned := make(chan struct{})
	go s.scan(out, password, addr, scanned)
	go func() {
		<-scanned // Wait must not close the pipe before it is read to the end
		s.exited <- cmd.Wait()
	}()

	s.url = "http://" + listen
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	hc := &http.Client{Timeout: time.Second}
	for {
		select {
		case a := <-addr:
			s.url = "http://" + a
		case err := <-s.exited:
			s.exited <- err
			os.RemoveAll(dir)
			return nil, fmt.Errorf("portreqd exited before it was ready (%v):\n%s", err, strings.Join(s.problems, "\n"))
		case <-deadline.C:
			s.stop()
			return nil, errors.New("portreqd was not ready within 60s")
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-tick.C:
			if resp, err := hc.Get(s.url + "/healthz"); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return s, nil
				}
			}
		}
	}
}

// scan reads portreqd's log: the "listening" line's addr, and every line at
// warn or above, kept for the report (portreqd logs failed requests at
// error level).
func (s *server) scan(r io.Reader, password string, addr chan<- string, done chan<- struct{}) {
	defer close(done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if password != "" {
			line = strings.ReplaceAll(line, password, "xxxxx")
		}
		var rec struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Addr  string `json:"addr"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" && rec.Addr != "" {
			select {
			case addr <- rec.Addr:
			default:
			}
			continue
		}
		if rec.Level == "debug" || rec.Level == "info" {
			continue
		}
		s.mu.Lock()
		s.nProblem++
		if len(s.problems) < 10 {
			s.problems = append(s.problems, line)
		}
		s.mu.Unlock()
	}
}

// stop asks portreqd to shut down (SIGTERM, its graceful path) and kills it
// if it does not within 10s.
func (s *server) stop() {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		_ = s.cmd.Process.Kill()
	}
	select {
	case err := <-s.exited:
		s.exited <- err
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	os.RemoveAll(s.dir)
}

// report prints the warn/error lines portreqd logged during the run.
func (s *server) report(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nProblem == 0 {
		fmt.Fprintln(w, "portreqd logged no warnings or errors")
		return
	}
	fmt.Fprintf(w, "portreqd logged %d warning/error line(s); the first %d:\n", s.nProblem, len(s.problems))
	for _, l := range s.problems {
		fmt.Fprintln(w, "  "+l)
	}
}

// pid is portreqd's process id.
func (s *server) pid() int { return s.cmd.Process.Pid }

// freeLoopbackAddr returns a loopback address with a port free right now.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// cleanEnv is this process's environment without PORTREQ_* variables, so
// that a developer's settings (charges, log level) cannot change what is
// measured.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PORTREQ_") {
			env = append(env, kv)
		}
	}
	return env
}

func passwordOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return ""
	}
	p, _ := u.User.Password()
	return p
}
