// Package api is portreqd's HTTP layer: Kazoo Crossbar's routes, the
// response envelope, authentication and content negotiation. It decodes
// requests, asks porting.Service (and rows.Reader for the reads of port
// requests), and encodes answers; it holds no rules.
package api

import (
	"context"
	"net/http"
	"runtime"
	"time"

	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/lnp"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/rows"
	"github.com/portreqd/portreqd/pkg/tokens"
)

// Config wires the HTTP layer.
type Config struct {
	Service *porting.Service
	// Rows reads port requests as answers show them; it reads through
	// Service.
	Rows   *rows.Reader
	Tokens *tokens.Issuer
	// Kazoo verifies the tokens Kazoo issued (tokens.Kazoo), for portreqd
	// beside Kazoo behind one API root; nil: portreqd's own only.
	Kazoo  KazooTokens
	Logger *zap.Logger
	// MaxUploadBytes bounds an attachment; JSON bodies may be larger (Monster
	// UI sends attachments as data URIs inside them), see maxJSONBytes.
	MaxUploadBytes int64
	// HealthTimeout bounds the store check behind /healthz.
	HealthTimeout time.Duration
	// Timeouts bound how long clients may take; zero members: defaults.
	Timeouts Timeouts
	// LoginsPerSecond and LoginBurst bound api_auth attempts per client
	// address (defaults 5 and 20).
	LoginsPerSecond float64
	LoginBurst      int
	// LNP answers portability checks (lnp_lookup), asked in order; none:
	// every number is unknown.
	LNP []lnp.Source
	// TestWebhook posts a subscription's test event; nil: the test route
	// answers 404.
	TestWebhook WebhookTester
	// Observer is told of every request once it is answered, for metrics;
	// nil: no one is.
	Observer Observer
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Observer receives each request's outcome: route is the matched path
// template ("unmatched" when no route matched), never the raw path, so
// that tenants' ids stay out of what it records. It is an interface here
// so that the API does not depend on a metrics library.
type Observer interface {
	Observe(route, method string, status int, d time.Duration)
}

// KazooTokens verifies a token Kazoo issued; an error wrapping
// tokens.ErrKazooToken refuses it, any other is the store's.
type KazooTokens interface {
	Verify(ctx context.Context, token string) (tokens.Identity, error)
}

// API serves Crossbar's routes.
type API struct {
	svc           *porting.Service
	rows          *rows.Reader
	tokens        *tokens.Issuer
	kazoo         KazooTokens
	log           *zap.Logger
	maxUpload     int64
	healthTimeout time.Duration
	lnp           []lnp.Source
	timeouts      Timeouts
	logins        *loginLimiter
	renders       slots // LOAs rendered at once
	uploads       slots // attachments spooled at once
	testHook      WebhookTester
	observer      Observer
	sessions      *sessions
}

// Timeouts bound each request from its first byte.
type Timeouts struct {
	// Body: to receive a JSON request's body (default 60 s).
	Body time.Duration
	// Answer: to send a JSON answer (default 2 min).
	Answer time.Duration
	// Upload: to receive or send an attachment, a logo or a letter
	// (default 10 min).
	Upload time.Duration
}

// New returns the API's root handler.
func New(cfg Config) http.Handler {
	a := &API{
		svc:           cfg.Service,
		rows:          cfg.Rows,
		tokens:        cfg.Tokens,
		kazoo:         cfg.Kazoo,
		log:           cfg.Logger,
		maxUpload:     cfg.MaxUploadBytes,
		healthTimeout: cfg.HealthTimeout,
		lnp:           cfg.LNP,
		timeouts:      cfg.Timeouts,
		testHook:      cfg.TestWebhook,
		observer:      cfg.Observer,
	}
	perSecond, burst := cfg.LoginsPerSecond, cfg.LoginBurst
	if perSecond <= 0 {
		perSecond = 5
	}
	if burst <= 0 {
		burst = 20
	}
	a.logins = newLoginLimiter(perSecond, burst)
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	a.sessions = newSessions(now)
	a.renders = newSlots(max(2, runtime.NumCPU()))
	a.uploads = newSlots(32)
	if a.timeouts.Body <= 0 {
		a.timeouts.Body = time.Minute
	}
	if a.timeouts.Answer <= 0 {
		a.timeouts.Answer = 2 * time.Minute
	}
	if a.timeouts.Upload <= 0 {
		a.timeouts.Upload = 10 * time.Minute
	}
	if a.rows == nil {
		panic("api: Config.Rows is required")
	}
	if a.log == nil {
		a.log = zap.NewNop()
	}
	if a.healthTimeout == 0 {
		a.healthTimeout = 2 * time.Second
	}
	return a.outer(a.routes())
}

// maxJSONBytes bounds a JSON body: a few times the upload limit, because
// Monster UI echoes attachments back as base64 data URIs inside its bodies.
func (a *API) maxJSONBytes() int64 { return 4*a.maxUpload + 1<<20 }
