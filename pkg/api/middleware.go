package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/porting"
)

// requestInfo travels in the request context from the outermost middleware
// to the handlers, collecting what the single access-log line reports.
type requestInfo struct {
	id      string
	route   string
	token   string
	account string
	err     error
	// start is when the request arrived; readBy when its body must have
	// (see setDeadlines).
	start, readBy time.Time
}

type ctxKey struct{}

func infoFrom(r *http.Request) *requestInfo {
	info, _ := r.Context().Value(ctxKey{}).(*requestInfo)
	return info
}

func requestID(r *http.Request) string {
	if info := infoFrom(r); info != nil {
		return info.id
	}
	return ""
}

func authToken(r *http.Request) string {
	if info := infoFrom(r); info != nil {
		return info.token
	}
	return ""
}

// maxRequestIDLen bounds an echoed X-Request-ID so that clients cannot make
// us log or reflect arbitrary amounts of text.
const maxRequestIDLen = 128

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validRequestID accepts printable ASCII without spaces or quotes.
func validRequestID(s string) bool {
	if s == "" || len(s) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// statusRecorder remembers the status a handler wrote, for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// outer is the middleware around the whole router: request id, CORS, panic
// recovery and one access-log line per request. It sits outside mux so that
// unknown routes and wrong methods get the same treatment.
func (a *API) outer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{id: r.Header.Get("X-Request-ID")}
		if !validRequestID(info.id) {
			info.id = newRequestID()
		}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, info))
		rec := &statusRecorder{ResponseWriter: w}
		h := rec.Header()
		h.Set("X-Request-ID", info.id)
		h.Set("X-Content-Type-Options", "nosniff")
		setCORS(h)
		info.start = start
		a.setDeadlines(rec, info, a.timeouts.Body)
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					// A streamed answer failed midway: log it, then let
					// net/http cut the connection.
					a.logRequest(r, info, rec.status, time.Since(start))
					panic(p)
				}
				a.log.Error("panic", zap.String("request_id", info.id), zap.String("panic", fmt.Sprint(p)), zap.Stack("stack"))
				if rec.status == 0 {
					writeError(rec, r, porting.E(porting.KindInternal, "internal error"))
				}
			}
			a.logRequest(r, info, rec.status, time.Since(start))
		}()
		if r.Method == http.MethodOptions {
			rec.Header().Set("Content-Type", contentTypeJSON)
			rec.WriteHeader(http.StatusOK)
			return
		}
		next.ServeHTTP(rec, r)
	})
}

// logRequest writes the one access-log line and tells the observer. The
// path is never logged raw (it may carry an API key in a query string);
// the route template is.
func (a *API) logRequest(r *http.Request, info *requestInfo, status int, d time.Duration) {
	if status == 0 {
		status = http.StatusOK
	}
	route := info.route
	if route == "" {
		route = "unmatched"
	}
	if a.observer != nil {
		a.observer.Observe(route, r.Method, status, d)
	}
	level := zap.InfoLevel
	if status >= 500 {
		level = zap.ErrorLevel
	}
	ce := a.log.Check(level, "request")
	if ce == nil {
		return // the line would be dropped: spare building it (the load tool runs at warn)
	}
	fields := []zap.Field{
		zap.String("request_id", info.id),
		zap.String("method", r.Method),
		zap.String("route", route),
		zap.Int("status", status),
		zap.Duration("duration", d),
	}
	if info.account != "" {
		fields = append(fields, zap.String("auth_account_id", info.account))
	}
	if status >= 500 && info.err != nil {
		fields = append(fields, zap.Error(info.err))
	}
	ce.Write(fields...)
}

// corsHeaders mirrors Crossbar's CORS answer so that browser clients (Monster
// UI) served from another origin can call the API.
var corsHeaders = map[string]string{
	"Access-Control-Allow-Origin":   "*",
	"Access-Control-Allow-Methods":  "GET, POST, PUT, DELETE, OPTIONS, HEAD, PATCH",
	"Access-Control-Allow-Headers":  "Content-Type, Depth, User-Agent, X-Http-Method-Override, X-File-Size, X-Requested-With, If-Modified-Since, X-File-Name, Cache-Control, X-Auth-Token, If-Match, X-Kazoo-Cluster-ID, X-Request-ID, Accept, Idempotency-Key",
	"Access-Control-Expose-Headers": "Content-Type, X-Auth-Token, X-Request-ID, Location, Etag, ETag, Content-Disposition, Idempotent-Replayed",
	"Access-Control-Max-Age":        "86400",
}

// corsValues holds corsHeaders as header values, built once: setCORS runs
// on every request. The slices are shared and never modified (Header.Add
// on a full slice copies it).
var corsValues = func() http.Header {
	h := http.Header{}
	for k, v := range corsHeaders {
		h.Set(k, v)
	}
	return h
}()

func setCORS(h http.Header) {
	for k, v := range corsValues {
		h[k] = v[:1:1]
	}
}

// setDeadlines bounds how long, from its first byte, a request's body may
// take to arrive (read) and its answer to leave (read plus Answer): a
// client that sends or reads slowly is cut off instead of holding a
// connection (and a file descriptor) for ever.
func (a *API) setDeadlines(w http.ResponseWriter, info *requestInfo, read time.Duration) {
	info.readBy = info.start.Add(read)
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(info.readBy)
	_ = rc.SetWriteDeadline(info.readBy.Add(a.timeouts.Answer))
}

// streaming gives a route that moves a file (an attachment, a logo, a
// letter) the long deadline, Timeouts.Upload, instead of a JSON body's.
func (a *API) streaming(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info := infoFrom(r); info != nil {
			a.setDeadlines(w, info, a.timeouts.Upload)
		}
		h.ServeHTTP(w, r)
	})
}
