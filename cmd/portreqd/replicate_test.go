package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/engine/couch"
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
