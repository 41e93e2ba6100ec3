package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// With -count-couch, portreqd talks to CouchDB through a reverse proxy in
// this tool that counts its requests by kind (method, database, document /
// view / bulk call), so that every scenario reports how many CouchDB round
// trips one portreqd request costs: the figure that bounds a scenario on
// the CouchDB store, measured rather than guessed. The proxy adds a hop and
// uses the load generator's CPU, so a counting run's rates are not the
// benchmark's; it is a diagnostic.

// couchCounter is the counting proxy.
type couchCounter struct {
	url    string // the proxy's URL, with the CouchDB credentials
	prefix string
	srv    *http.Server

	mu     sync.Mutex
	counts map[string]int
}

// startCouchCounter serves a reverse proxy to c on a free loopback port.
func startCouchCounter(c *couchServer, prefix string) (*couchCounter, error) {
	target, err := url.Parse(c.base)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	cc := &couchCounter{prefix: prefix, counts: map[string]int{}}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{Proxy: nil, MaxIdleConns: 256, MaxIdleConnsPerHost: 128, IdleConnTimeout: 4 * time.Second}
	cc.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cc.mu.Lock()
		cc.counts[cc.kind(r)]++
		cc.mu.Unlock()
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = cc.srv.Serve(ln) }()
	u, _ := url.Parse(c.raw)
	u.Host = ln.Addr().String()
	cc.url = u.String()
	return cc, nil
}

func (cc *couchCounter) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := cc.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		_ = cc.srv.Close()
	}
}

// kind names a CouchDB request: "GET port_requests view listing_by_state",
// "PUT port_number_claims doc", "POST numbers/… _bulk_docs".
func (cc *couchCounter) kind(r *http.Request) string {
	path := r.URL.EscapedPath()
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	db, _ := url.PathUnescape(parts[0])
	db = strings.TrimPrefix(db, cc.prefix)
	if strings.HasPrefix(db, "numbers/") {
		db = "numbers/…"
	}
	what := "server"
	switch {
	case len(parts) == 1:
		what = "database"
	case len(parts) >= 5 && parts[1] == "_design" && parts[3] == "_view":
		what = "view " + parts[4]
	case strings.HasPrefix(parts[1], "_"):
		what = parts[1]
	case len(parts) == 2:
		what = "doc"
	default:
		what = "attachment"
	}
	return r.Method + " " + db + " " + what
}

// snapshot copies the counts.
func (cc *couchCounter) snapshot() map[string]int {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	out := make(map[string]int, len(cc.counts))
	for k, v := range cc.counts {
		out[k] = v
	}
	return out
}

// perRequest describes the CouchDB requests made between before and now,
// per portreqd request sent.
func (cc *couchCounter) perRequest(before map[string]int, sent int) (float64, string) {
	if sent == 0 {
		return 0, ""
	}
	now := cc.snapshot()
	total := 0
	var kinds []string
	for k, v := range now {
		if d := v - before[k]; d > 0 {
			total += d
			kinds = append(kinds, k)
		}
	}
	slices.SortFunc(kinds, func(a, b string) int { return (now[b] - before[b]) - (now[a] - before[a]) })
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, float64(now[k]-before[k])/float64(sent)))
	}
	per := float64(total) / float64(sent)
	return per, fmt.Sprintf("CouchDB requests per request: %.2f (%s)", per, strings.Join(parts, ", "))
}
