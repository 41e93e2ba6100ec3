package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// ceilingName is the scenario measuring the trivial handler.
const ceilingName = "trivial_json"

// trivialBody is the ceiling's whole answer.
var trivialBody = []byte(`{"status":"ok"}`)

// trivialHandler is the least an HTTP JSON service can do: no routing, no
// store, one small fixed body with the Content-Type portreqd sends.
func trivialHandler(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(trivialBody)
}

// serveTrivial is the -serve-trivial mode: this same binary, started by
// startTrivial, serving the ceiling handler until SIGTERM. A process of its
// own, like portreqd, so that the load generator's CPU use and garbage
// collection are not mixed into the server's.
func serveTrivial(ctx context.Context, addr string) error {
	if err := checkLoopback("http://" + addr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(trivialHandler), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// trivialServer is the ceiling process.
type trivialServer struct {
	url    string
	cmd    *exec.Cmd
	exited chan error
}

// startTrivial re-executes this tool (os.Executable: the binary go run
// built, or an installed one) with -serve-trivial on a free loopback port
// and waits until it answers.
func startTrivial(ctx context.Context, stderr io.Writer) (*trivialServer, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-serve-trivial", addr)
	cmd.Env = cleanEnv()
	cmd.Stdout, cmd.Stderr = stderr, stderr
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t := &trivialServer{url: "http://" + addr, cmd: cmd, exited: make(chan error, 1)}
	go func() { t.exited <- cmd.Wait() }()
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-t.exited:
			t.exited <- err
			return nil, fmt.Errorf("exited before it was ready: %v", err)
		case <-ctx.Done():
			t.stop()
			return nil, ctx.Err()
		case <-time.After(30 * time.Millisecond):
		}
		if resp, err := hc.Get(t.url + "/"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && resp.Header.Get("Content-Type") == "application/json" {
				return t, nil
			}
		}
		if time.Now().After(deadline) {
			t.stop()
			return nil, errors.New("not ready within 20s")
		}
	}
}

// stop ends the ceiling process: SIGTERM, then a kill after 5s.
func (t *trivialServer) stop() {
	_ = t.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-t.exited:
		t.exited <- err
	case <-time.After(5 * time.Second):
		_ = t.cmd.Process.Kill()
		<-t.exited
	}
}
