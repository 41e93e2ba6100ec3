package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"
)

// startDebug serves net/http/pprof on a loopback address for profiling a
// running instance. Profiles reveal internals, so any other host is refused.
func startDebug(ctx context.Context, addr string, log *zap.Logger) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--debug-addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--debug-addr %q: only a loopback address is allowed", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--debug-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	// Not pprof.Cmdline: the command line may hold --master-api-key and
	// --token-secret.
	mux.HandleFunc("/debug/pprof/cmdline", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(redactedArgs(os.Args)))
	})
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	log.Info("debug server (pprof)", zap.String("addr", ln.Addr().String()))
	return nil
}

// redactedArgs is the command line with the values of the secret flags
// replaced.
func redactedArgs(args []string) string {
	out := make([]string, len(args))
	hide := false
	for i, a := range args {
		switch {
		case hide:
			out[i], hide = "REDACTED", false
		case a == "--master-api-key" || a == "-master-api-key" || a == "--token-secret" || a == "-token-secret" || a == "--couchdb" || a == "-couchdb":
			out[i], hide = a, true
		case strings.HasPrefix(a, "--master-api-key=") || strings.HasPrefix(a, "-master-api-key=") ||
			strings.HasPrefix(a, "--token-secret=") || strings.HasPrefix(a, "-token-secret=") ||
			strings.HasPrefix(a, "--couchdb=") || strings.HasPrefix(a, "-couchdb="):
			name, _, _ := strings.Cut(a, "=")
			out[i] = name + "=REDACTED"
		default:
			out[i] = a
		}
	}
	return strings.Join(out, "\x00")
}
