package browser

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// The gateway is the one API origin Monster UI talks to
// (config.js api.default). It stands where a Kazoo cluster's Crossbar
// would: it answers CORS preflights itself, sends every route portreqd
// serves to portreqd, and answers the few other Kazoo APIs Monster UI
// calls at start-up with minimal Kazoo-shaped fixtures. Every request is
// recorded, so that the test can tell which Kazoo APIs the UI called, who
// answered, and with what status.

// portreqdRoutes are the path templates proxied to portreqd, whatever the
// method ({X} is one path segment; a final "/..." is the route itself or
// anything below it). They follow pkg/api/routes.go.
var portreqdRoutes = []string{
	"/v2/api_auth",
	"/v2/user_auth",
	"/v2/auth/tokeninfo",
	"/v2/accounts/{ACCOUNT_ID}",
	"/v2/accounts/{ACCOUNT_ID}/children",
	"/v2/accounts/{ACCOUNT_ID}/descendants",
	"/v2/accounts/{ACCOUNT_ID}/api_key",
	"/v2/accounts/{ACCOUNT_ID}/phone_numbers",
	"/v2/accounts/{ACCOUNT_ID}/loa_logo",
	"/v2/accounts/{ACCOUNT_ID}/users/...",
	"/v2/accounts/{ACCOUNT_ID}/port_requests/...",
	"/v2/accounts/{ACCOUNT_ID}/descendants/port_requests/...",
	"/v2/port_requests/...",
}

// allowedPortreqdErrors lists portreqd answers of 4xx/5xx that the walk
// may see without failing the test, as "METHOD TEMPLATE STATUS". Every
// error portreqd answers the UI is a bug until listed here with a reason.
var allowedPortreqdErrors = map[string]string{}

// fixture answers one Kazoo API that portreqd does not serve.
type fixture struct {
	Method string
	Path   string // template: {X} is one path segment
	Status int    // what it answers (documentation; Answer decides)
	Note   string // why Monster UI calls it, and what the answer means
	Answer func(g *gateway, r *http.Request, v map[string]string, body []byte) (int, any)
}

// fixtures are every non-portreqd Kazoo API Monster UI calls on the way to
// the port screens (found by running the walk: an unlisted call fails the
// test with "no fixture").
var fixtures = []fixture{
	{http.MethodGet, "/v2/whitelabel/{DOMAIN}", 404,
		"core app load: the whitelabel profile of the UI's domain; 404 means none",
		notFound},
	{http.MethodGet, "/v2/whitelabel/{DOMAIN}/logo", 404,
		"core app: topbar logo; 404 means Monster's default",
		notFound},
	{http.MethodGet, "/v2/whitelabel/{DOMAIN}/icon", 404,
		"core app: favicon; 404 means Monster's default",
		notFound},
	{http.MethodGet, "/v2/accounts/{ACCOUNT_ID}/external_numbers", 200,
		"auth app: caller-ID capability probe; an empty list means available",
		func(*gateway, *http.Request, map[string]string, []byte) (int, any) { return 200, []any{} }},
	{http.MethodGet, "/v2/accounts/{ACCOUNT_ID}/alerts", 200,
		"core app, alerts submodule (topbar bell): the account's alerts; none",
		func(*gateway, *http.Request, map[string]string, []byte) (int, any) { return 200, []any{} }},
	{http.MethodGet, "/v2/accounts/{ACCOUNT_ID}/apps_store", 200,
		"auth app: the apps the user may run; none (the port screens are common submodules)",
		func(*gateway, *http.Request, map[string]string, []byte) (int, any) { return 200, []any{} }},
}

// hit is one request the gateway saw.
type hit struct {
	At       time.Time
	Method   string
	Path     string // as sent
	Query    string // without jQuery's cache buster "_"
	Template string
	By       string // byPortreqd, byFixture, byPreflight, byNothing
	Status   int
	ReqBody  string // excerpt, for errors
	RespBody string // excerpt, for errors
}

const (
	byPortreqd  = "portreqd"
	byFixture   = "fixture"
	byPreflight = "gateway (CORS preflight)"
	byNothing   = "NO FIXTURE (gateway 404)"
)

type gateway struct {
	t        *testing.T
	upstream *url.URL
	proxy    *httputil.ReverseProxy
	srv      *httptest.Server

	mu         sync.Mutex
	hits       []*hit
	requestSeq int
}

type hitKey struct{}

// startGateway serves the gateway on a loopback port in front of
// portreqdURL.
func startGateway(t *testing.T, portreqdURL string) *gateway {
	t.Helper()
	u, err := url.Parse(portreqdURL)
	if err != nil {
		t.Fatal(err)
	}
	g := &gateway{t: t, upstream: u}
	g.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = u.Host
		},
		ModifyResponse: func(resp *http.Response) error {
			// The gateway owns CORS: drop any portreqd sent, so that the
			// browser never sees two Access-Control-Allow-Origin values.
			for k := range resp.Header {
				if strings.HasPrefix(k, "Access-Control-") {
					resp.Header.Del(k)
				}
			}
			h, _ := resp.Request.Context().Value(hitKey{}).(*hit)
			if h == nil {
				return nil
			}
			h.Status = resp.StatusCode
			if resp.StatusCode >= 400 {
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					return err
				}
				h.RespBody = excerpt(body, 2000)
				resp.Body = io.NopCloser(bytes.NewReader(body))
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if h, _ := r.Context().Value(hitKey{}).(*hit); h != nil {
				h.Status = http.StatusBadGateway
				h.RespBody = "gateway: " + err.Error()
			}
			http.Error(w, err.Error(), http.StatusBadGateway)
		},
	}
	g.srv = httptest.NewServer(g)
	t.Cleanup(g.srv.Close)
	return g
}

// URL is the API root for config.js, with its trailing slash.
func (g *gateway) URL() string { return g.srv.URL + "/v2/" }

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Access-Control-Allow-Origin", "*")
	hdr.Set("Access-Control-Expose-Headers", "Content-Type, X-Auth-Token, X-Request-ID, X-Kazoo-Cluster-ID, Location, ETag")

	h := &hit{At: time.Now(), Method: r.Method, Path: r.URL.Path, Query: cleanQuery(r.URL.Query())}
	defer func() {
		g.mu.Lock()
		g.hits = append(g.hits, h)
		g.mu.Unlock()
	}()

	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.By, h.Template, h.Status = byPreflight, templateOf(r.URL.Path), http.StatusNoContent
		hdr.Set("Access-Control-Allow-Methods", "GET, PUT, POST, PATCH, DELETE, OPTIONS")
		hdr.Set("Access-Control-Allow-Headers", "Content-Type, X-Auth-Token, X-Kazoo-Cluster-ID")
		hdr.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	}

	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	h.ReqBody = excerpt(body, 600)

	for _, tmpl := range portreqdRoutes {
		if _, ok := pathMatch(tmpl, r.URL.Path); ok {
			h.By, h.Template = byPortreqd, templateOf(r.URL.Path)
			g.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), hitKey{}, h)))
			return
		}
	}
	for _, f := range fixtures {
		if v, ok := pathMatch(f.Path, r.URL.Path); ok && f.Method == r.Method {
			h.By, h.Template = byFixture, f.Path
			status, data := f.Answer(g, r, v, body)
			h.Status = status
			g.writeKazoo(w, r, status, data)
			return
		}
	}
	h.By, h.Template, h.Status = byNothing, templateOf(r.URL.Path), http.StatusNotFound
	g.writeKazoo(w, r, http.StatusNotFound, nil)
}

// writeKazoo answers in Crossbar's envelope: data on success, the error
// shape (error, message, status "error") otherwise.
func (g *gateway) writeKazoo(w http.ResponseWriter, r *http.Request, status int, data any) {
	g.mu.Lock()
	g.requestSeq++
	reqID := fmt.Sprintf("gateway-%06d", g.requestSeq)
	g.mu.Unlock()
	env := map[string]any{
		"auth_token": r.Header.Get("X-Auth-Token"),
		"request_id": reqID,
		"revision":   "undefined",
		"node":       "gateway",
		"version":    "4.3.0",
	}
	if status < 400 {
		env["status"] = "success"
		env["data"] = data
	} else {
		msg := http.StatusText(status)
		if status == http.StatusNotFound {
			msg = "bad identifier"
		}
		if data == nil {
			data = map[string]any{"message": msg}
		}
		env["status"] = "error"
		env["error"] = fmt.Sprint(status)
		env["message"] = msg
		env["data"] = data
	}
	raw, err := json.Marshal(env)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Request-ID", reqID)
	w.WriteHeader(status)
	_, _ = w.Write(raw)
}

func notFound(*gateway, *http.Request, map[string]string, []byte) (int, any) {
	return http.StatusNotFound, nil
}

// pathMatch matches path against tmpl ({X}: one segment; a final "/...":
// nothing or any further segments) and returns the segment variables.
func pathMatch(tmpl, path string) (map[string]string, bool) {
	rest := strings.HasSuffix(tmpl, "/...")
	tsegs := strings.Split(strings.TrimPrefix(strings.TrimSuffix(tmpl, "/..."), "/"), "/")
	psegs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if len(psegs) < len(tsegs) || (!rest && len(psegs) != len(tsegs)) {
		return nil, false
	}
	vars := map[string]string{}
	for i, ts := range tsegs {
		if strings.HasPrefix(ts, "{") && strings.HasSuffix(ts, "}") {
			if psegs[i] == "" {
				return nil, false
			}
			vars[strings.Trim(ts, "{}")] = psegs[i]
			continue
		}
		if ts != psegs[i] {
			return nil, false
		}
	}
	return vars, true
}

// portStates are the words that may follow port_requests/{id} or stand
// for a listing by state.
var portWords = []string{"last_submitted", "lnp_lookup", "unconfirmed", "submitted", "pending", "scheduled", "completed", "rejected", "canceled"}

// templateOf names the variable segments of a Kazoo API path.
func templateOf(path string) string {
	segs := strings.Split(path, "/")
	for i := 1; i < len(segs); i++ {
		prev := segs[i-1]
		switch {
		case segs[i] == "":
		case prev == "accounts":
			segs[i] = "{ACCOUNT_ID}"
		case prev == "port_requests" && !slices.Contains(portWords, segs[i]):
			segs[i] = "{PORT_REQUEST_ID}"
		case prev == "users":
			segs[i] = "{USER_ID}"
		case prev == "attachments":
			segs[i] = "{ATTACHMENT}"
		case prev == "comments":
			segs[i] = "{COMMENT}"
		case prev == "apps_store":
			segs[i] = "{APP_ID}"
		case prev == "whitelabel" && i == 3:
			segs[i] = "{DOMAIN}"
		}
	}
	return strings.Join(segs, "/")
}

// cleanQuery drops jQuery's cache buster and the token from a query.
func cleanQuery(q url.Values) string {
	q.Del("_")
	if q.Has("token") {
		q.Set("token", "…")
	}
	s, err := url.QueryUnescape(q.Encode())
	if err != nil {
		return q.Encode()
	}
	return s
}

func excerpt(b []byte, n int) string {
	s := string(b)
	if len(s) > n {
		s = s[:n] + fmt.Sprintf("… (%d bytes)", len(b))
	}
	return s
}

// snapshot returns the hits so far.
func (g *gateway) snapshot() []hit {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]hit, len(g.hits))
	for i, h := range g.hits {
		out[i] = *h
	}
	return out
}

// unexpectedPortreqdErrors are portreqd's 4xx/5xx answers to the UI that
// allowedPortreqdErrors does not list.
func (g *gateway) unexpectedPortreqdErrors() []hit {
	var out []hit
	for _, h := range g.snapshot() {
		if h.By != byPortreqd || h.Status < 400 {
			continue
		}
		if _, ok := allowedPortreqdErrors[fmt.Sprintf("%s %s %d", h.Method, h.Template, h.Status)]; ok {
			continue
		}
		out = append(out, h)
	}
	return out
}

// unhandled are the calls no fixture or portreqd route answered.
func (g *gateway) unhandled() []hit {
	var out []hit
	for _, h := range g.snapshot() {
		if h.By == byNothing {
			out = append(out, h)
		}
	}
	return out
}

// loginProblems says what the record lacks for each of users' logins
// through the login form: a PUT /v2/user_auth that portreqd answered 201,
// carrying the form's hash of the user's lower-cased username and password,
// and a GET of the logged-in user that portreqd answered 200. It also names
// any user_auth or users call a fixture answered.
func (g *gateway) loginProblems(users []walkUser) []string {
	hits := g.snapshot()
	var out []string
	for _, u := range users {
		sum := md5.Sum([]byte(strings.ToLower(u.Username) + ":" + u.Password))
		creds := hex.EncodeToString(sum[:])
		userPath := "/v2/accounts/" + u.AccountID + "/users/" + u.ID
		authed := slices.ContainsFunc(hits, func(h hit) bool {
			return h.Method == http.MethodPut && h.Path == "/v2/user_auth" && h.By == byPortreqd &&
				h.Status == http.StatusCreated && strings.Contains(h.ReqBody, creds)
		})
		if !authed {
			out = append(out, fmt.Sprintf("%s %s: no PUT /v2/user_auth with the login form's credentials answered 201 by portreqd", u.FirstName, u.LastName))
		}
		fetched := slices.ContainsFunc(hits, func(h hit) bool {
			return h.Method == http.MethodGet && h.Path == userPath && h.By == byPortreqd && h.Status == http.StatusOK
		})
		if !fetched {
			out = append(out, fmt.Sprintf("%s %s: no GET %s answered 200 by portreqd (the logged-in user)", u.FirstName, u.LastName, userPath))
		}
	}
	resumed := slices.ContainsFunc(hits, func(h hit) bool {
		return h.Method == http.MethodPost && h.Path == "/v2/auth/tokeninfo" && h.By == byPortreqd && h.Status == http.StatusOK
	})
	if !resumed {
		out = append(out, "no POST /v2/auth/tokeninfo answered 200 by portreqd (the reload's session resumption)")
	}
	for _, h := range hits {
		if h.By == byFixture && (strings.HasSuffix(h.Path, "/user_auth") || strings.HasSuffix(h.Path, "/tokeninfo") || strings.Contains(h.Path, "/users")) {
			out = append(out, fmt.Sprintf("a fixture answered %s %s", h.Method, h.Path))
		}
	}
	return out
}

// summary is a table of every Kazoo API the UI called: method, path
// template, how often, who answered and with which statuses, and the
// queries seen.
func (g *gateway) summary() string {
	type row struct {
		method, tmpl, by string
		n                int
		statuses         map[int]int
		queries          []string
		first            time.Time
	}
	rows := map[string]*row{}
	preflights := 0
	for _, h := range g.snapshot() {
		if h.By == byPreflight {
			preflights++
			continue
		}
		k := h.Method + " " + h.Template + " " + h.By
		r := rows[k]
		if r == nil {
			r = &row{method: h.Method, tmpl: h.Template, by: h.By, statuses: map[int]int{}, first: h.At}
			rows[k] = r
		}
		r.n++
		r.statuses[h.Status]++
		if h.Query != "" && !slices.Contains(r.queries, h.Query) && len(r.queries) < 4 {
			r.queries = append(r.queries, h.Query)
		}
	}
	list := make([]*row, 0, len(rows))
	for _, r := range rows {
		list = append(list, r)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].first.Before(list[j].first) })
	var b strings.Builder
	fmt.Fprintf(&b, "%-7s %-66s %-24s %5s  %s\n", "METHOD", "KAZOO API (as Monster UI called it)", "ANSWERED BY", "CALLS", "STATUS×COUNT  [queries]")
	for _, r := range list {
		var st []string
		codes := make([]int, 0, len(r.statuses))
		for c := range r.statuses {
			codes = append(codes, c)
		}
		sort.Ints(codes)
		for _, c := range codes {
			st = append(st, fmt.Sprintf("%d×%d", c, r.statuses[c]))
		}
		q := ""
		if len(r.queries) > 0 {
			q = "  [?" + strings.Join(r.queries, "] [?") + "]"
		}
		fmt.Fprintf(&b, "%-7s %-66s %-24s %5d  %s%s\n", r.method, r.tmpl, r.by, r.n, strings.Join(st, " "), q)
	}
	fmt.Fprintf(&b, "(+ %d CORS preflights answered by the gateway)\n", preflights)
	return b.String()
}

// fixtureTable documents what the fixtures answer, for the log.
func fixtureTable() string {
	var b strings.Builder
	for _, f := range fixtures {
		fmt.Fprintf(&b, "  %-6s %-46s → %d  %s\n", f.Method, f.Path, f.Status, f.Note)
	}
	return b.String()
}
