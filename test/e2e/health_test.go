package e2e

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// proxy forwards TCP to target until it is cut, standing in for a CouchDB
// that goes away.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	down  bool
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.down {
				p.mu.Unlock()
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

// cut drops every connection and refuses new ones.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// TestStoreUnavailable checks /healthz and the API answer 503 in the
// envelope when CouchDB goes away, and nothing hangs.
func TestStoreUnavailable(t *testing.T) {
	e := newEnv(t, storeCouch)
	u, err := url.Parse(e.couchURL)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	e.couchURL = u.String()
	s := e.start(t)
	token, master := s.login(t, e.apiKey)
	s.do(t, "GET", "/healthz", "", nil).expect(t, 200)

	p.cut()
	h := s.do(t, "GET", "/healthz", "", nil).expect(t, 503)
	if h.Body["status"] != "unavailable" {
		t.Errorf("healthz body: %s", h.Raw)
	}
	r := s.do(t, "PUT", "/v2/accounts/"+master+"/port_requests", token, reqBody("x", "+12025550123")).expect(t, 503)
	if r.Body["error"] != "503" || r.Body["message"] != "datastore unavailable" {
		t.Errorf("503 envelope: %s", r.Raw)
	}
}
