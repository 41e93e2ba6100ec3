package main

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/engine/couch"
	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

// TestReplicateCommand runs portreqd replicate --once between the sites of
// COUCHDB_SITE_URLS, waits for replicate status to report every
// replication running (exit 0, no credentials printed), then removes them.
func TestReplicateCommand(t *testing.T) {
	urls := couchdbtest.SiteURLs(t)
	prefix := couchdbtest.Prefix() + "cmd_"
	ctx := context.Background()
	eng, err := couch.Open(ctx, couch.Options{URL: urls[0], Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if err := eng.CreateDB(ctx, prefix+"port_requests"); err != nil {
		t.Fatal(err)
	}
	args := []string{"--db-prefix", prefix}
	for _, u := range urls {
		args = append(args, "--site", u)
	}
	t.Cleanup(func() {
		var out bytes.Buffer
		if err := run(ctx, append([]string{"replicate", "--remove"}, args...), nil, &out); err != nil {
			t.Errorf("replicate --remove: %v\n%s", err, out.String())
		}
		for _, u := range urls {
			if e, err := couch.Open(ctx, couch.Options{URL: u, Logger: zap.NewNop()}); err == nil {
				_ = e.DeleteDB(ctx, prefix+"port_requests")
				_ = e.Close()
			}
		}
	})
	var out bytes.Buffer
	if err := run(ctx, append([]string{"replicate", "--once"}, args...), nil, &out); err != nil {
		t.Fatalf("replicate --once: %v\n%s", err, out.String())
	}
	if want := "1 shared databases"; !strings.Contains(out.String(), want) {
		t.Errorf("replicate --once said %q, want %q in it", out.String(), want)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		out.Reset()
		err := run(ctx, append([]string{"replicate", "status"}, args...), nil, &out)
		if strings.Contains(out.String(), "secret") {
			t.Fatalf("status prints credentials:\n%s", out.String())
		}
		if err == nil {
			// The header and one line per other site pulling the database.
			if lines := strings.Count(out.String(), "\n"); lines != len(urls) {
				t.Errorf("status has %d lines, want %d:\n%s", lines, len(urls), out.String())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status after a minute: %v\n%s", err, out.String())
		}
		time.Sleep(300 * time.Millisecond)
	}
	// portreqd on a replicated site (one pulling from the others) refuses
	// to start with a random per-process token secret: tokens must hold at
	// every site. A site that does start would serve until ctx ends.
	out.Reset()
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	err = run(sctx, []string{"--couchdb", urls[1], "--db-prefix", prefix, "--listen", "127.0.0.1:0"}, func(string) string { return "" }, &out)
	if err == nil || !strings.Contains(err.Error(), "--token-secret") {
		t.Errorf("portreqd on a replicated site without --token-secret: %v", err)
	}
}

// lockedBuffer is an output that a running portreqd writes while the test
// reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startSite runs portreqd on CouchDB url until the test ends and returns
// its address once it listens, and its log.
func startSite(t *testing.T, url, prefix string, extra ...string) (string, *lockedBuffer) {
	t.Helper()
	args := append([]string{"--couchdb", url, "--db-prefix", prefix, "--token-secret", "sites-token-secret-0123456789abcdef0123456789"}, extra...)
	return startPortreqd(t, args, func(string) string { return "" })
}

// startPortreqd runs portreqd with args (and --listen on a free loopback
// port) until the test ends, and returns its address once it listens,
// and its output.
func startPortreqd(t *testing.T, args []string, getenv func(string) string) (string, *lockedBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	done, stopped := make(chan error, 1), make(chan struct{})
	args = append([]string{"--listen", "127.0.0.1:0"}, args...)
	go func() {
		defer close(stopped)
		done <- run(ctx, args, getenv, out)
	}()
	t.Cleanup(func() { cancel(); <-stopped })
	addr := regexp.MustCompile(`"listening","addr":"([^"]+)"`)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if m := addr.FindStringSubmatch(out.String()); m != nil {
			return m[1], out
		}
		select {
		case err := <-done:
			t.Fatalf("portreqd %s stopped: %v\n%s", redactedArgs(args), err, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("portreqd %s not listening after 3 minutes:\n%s", redactedArgs(args), out.String())
		}
	}
}

// TestNewSiteAdoptsTheMaster starts portreqd on one site with a master
// key, replicates it to a second, empty site, and starts portreqd there
// without a key: the second site waits for the master to replicate rather
// than make its own, so the first site's key logs in at both.
func TestNewSiteAdoptsTheMaster(t *testing.T) {
	urls := couchdbtest.SiteURLs(t)[:2]
	prefix := couchdbtest.Prefix() + "master_"
	ctx := context.Background()
	const key = "the-one-master-key-0123"
	args := []string{"--db-prefix", prefix, "--site", urls[0], "--site", urls[1]}
	t.Cleanup(func() { // after both portreqds stop
		var out bytes.Buffer
		_ = run(ctx, append([]string{"replicate", "--remove"}, args...), nil, &out)
		for _, u := range urls {
			kazootest.DropPrefix(t, u, prefix)
		}
	})
	addrA, _ := startSite(t, urls[0], prefix, "--master-api-key", key)
	var out bytes.Buffer
	if err := run(ctx, append([]string{"replicate", "--once"}, args...), nil, &out); err != nil {
		t.Fatalf("replicate --once: %v\n%s", err, out.String())
	}
	addrB, logB := startSite(t, urls[1], prefix)
	if strings.Contains(logB.String(), "created master account") || strings.Contains(logB.String(), "created the master account") {
		t.Errorf("the second site made a master of its own:\n%s", logB.String())
	}
	for _, addr := range []string{addrA, addrB} {
		req, _ := http.NewRequest(http.MethodPut, "http://"+addr+"/v2/api_auth", strings.NewReader(`{"data":{"api_key":"`+key+`"}}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Errorf("%s: api_auth with the first site's key: %d, want 201", addr, resp.StatusCode)
		}
	}
}
