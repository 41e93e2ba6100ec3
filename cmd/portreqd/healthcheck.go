package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// healthcheck probes a local portreqd's /healthz and fails unless it answers
// 200. Container images without a shell or curl (distroless) use it as their
// health check: `portreqd healthcheck`.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("portreqd healthcheck", flag.ContinueOnError)
	fs.SetOutput(out)
	usageOf(fs, "portreqd healthcheck [--listen ADDR]", "listen")
	listen := fs.String("listen", ":8000", "the address portreqd listens on")
	if err := envDefaults(fs, getenv, "listen"); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", *listen, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("unhealthy: %s", resp.Status)
	}
	fmt.Fprintln(out, "ok")
	return nil
}
