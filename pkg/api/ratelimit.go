package api

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/portreqd/portreqd/pkg/porting"
)

// loginLimiter bounds api_auth attempts per client address: guessing API
// keys one after another (727 a second from one client before) is answered
// 429 with Retry-After, while a client that logs in now and then never
// notices.
type loginLimiter struct {
	mu      sync.Mutex
	perIP   map[string]*rate.Limiter
	every   rate.Limit
	burst   int
	maxKeys int
}

func newLoginLimiter(perSecond float64, burst int) *loginLimiter {
	return &loginLimiter{perIP: map[string]*rate.Limiter{}, every: rate.Limit(perSecond), burst: burst, maxKeys: 10000}
}

// allow takes one attempt for r's client; false with how long to wait.
func (l *loginLimiter) allow(r *http.Request) (bool, time.Duration) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	l.mu.Lock()
	lim, ok := l.perIP[host]
	if !ok {
		if len(l.perIP) >= l.maxKeys {
			l.perIP = map[string]*rate.Limiter{} // forget everyone rather than grow without bound
		}
		lim = rate.NewLimiter(l.every, l.burst)
		l.perIP[host] = lim
	}
	l.mu.Unlock()
	res := lim.Reserve()
	if d := res.Delay(); d > 0 {
		res.Cancel()
		return false, d
	}
	return true, 0
}

// limited wraps api_auth with the limiter.
func (a *API) limited(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := a.logins.allow(r); !ok {
			secs := max(1, int((wait+time.Second-1)/time.Second))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			writeError(w, r, &porting.Error{Kind: porting.KindTooManyRequests, Message: "too many requests",
				Data: map[string]any{"message": "too many login attempts from this address; retry after " + strconv.Itoa(secs) + " s"}})
			return
		}
		h.ServeHTTP(w, r)
	})
}
