package porting

import (
	"context"
	"errors"
	"log/slog"
	mrand "math/rand/v2"
	"sync/atomic"
	"time"
)

// Service holds every rule of portreqd: who may act on which account, the
// port request life cycle, what a listing reads. The HTTP layer decodes and
// encodes; the Store persists; package rows reads requests as the API
// shows them, through a cache, as Service plans it; the rules are here.
type Service struct {
	store    Store
	now      Clock
	newID    IDSource
	accounts AccountCache
	// readAccount is store.GetAccount, made once: a method value made per
	// call would be an allocation per account lookup.
	readAccount func(context.Context, string) (*Account, error)
	masterID    atomic.Pointer[string]
	rules       Rules
	log         *slog.Logger
	site        string
	peers       Peers
	// checkTemplate validates an account's mail template (notify).
	checkTemplate func(id, source string) error
	claimCounts   claimCounts
}

// Rules are the operator's choices that change behaviour.
type Rules struct {
	// ActivationCharge is charged per ported number on submission (dollars);
	// zero disables charges.
	ActivationCharge float64
	// AllowSubmittedToScheduled lets the authority skip pending.
	AllowSubmittedToScheduled bool
	// RealmSuffix ends the random SIP realm of an account created without
	// one (Kazoo's crossbar.accounts account_realm_suffix); empty:
	// DefaultRealmSuffix.
	RealmSuffix string
	// Limits bound what one port request may hold.
	Limits Limits
	// CompletionGrace is how long a completion intent is trusted before
	// it counts as cut off and is rolled back; zero: DefaultCompletionGrace.
	CompletionGrace time.Duration
}

// DefaultRealmSuffix is Kazoo's default account_realm_suffix.
const DefaultRealmSuffix = "sip.2600hz.com"

// Config wires a Service.
type Config struct {
	Store Store
	Clock Clock    // defaults to time.Now
	IDs   IDSource // defaults to RandomID
	// Accounts keeps the accounts every call reads; nil reads the store
	// every time.
	Accounts AccountCache
	Rules    Rules
	// Log receives what a request cannot report to its caller: best-effort
	// cleanups that failed, completions undone in part. nil discards it.
	Log *slog.Logger
	// Site names this site on the claims it writes, when it replicates
	// with others (sites.go); "" otherwise.
	Site string
	// Peers lists the other sites, read before a completion; nil when
	// this site replicates with none.
	Peers Peers
	// CheckTemplate validates the mail template an account stores
	// (notify.CheckTemplate); nil accepts any.
	CheckTemplate func(id, source string) error
}

// NewService builds a Service from cfg.
func NewService(cfg Config) *Service {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.IDs == nil {
		cfg.IDs = RandomID
	}
	if cfg.Accounts == nil {
		cfg.Accounts = noAccountCache{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		store:    cfg.Store,
		now:      cfg.Clock,
		newID:    cfg.IDs,
		accounts: cfg.Accounts,
		rules:    cfg.Rules,
		log:      cfg.Log,
		site:     cfg.Site,
		peers:    cfg.Peers,

		checkTemplate: cfg.CheckTemplate,
	}
	s.readAccount = func(ctx context.Context, id string) (*Account, error) { return s.store.GetAccount(ctx, id) }
	return s
}

// Ping answers nil only when the store answers.
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }

func (s *Service) gregorianNow() int64 { return Gregorian(s.now()) }

// conflictRetries bounds read-modify-write retries on a stale revision.
const conflictRetries = 12

// retryConflict runs fn again while it fails with KindConflict: another
// writer changed the document between our read and our write. Waits grow
// and are jittered so that a crowd of writers on one document (concurrent
// uploads) spreads out instead of colliding again in lockstep.
func (s *Service) retryConflict(ctx context.Context, fn func() error) error {
	var err error
	for i := 0; i < conflictRetries; i++ {
		if err = fn(); !IsKind(err, KindConflict) || errors.Is(err, errStale) {
			return err
		}
		wait := time.Duration(1+mrand.IntN(5<<min(i, 6))) * time.Millisecond
		select {
		case <-ctx.Done():
			return Wrap(KindUnavailable, "datastore unavailable", ctx.Err())
		case <-time.After(wait):
		}
	}
	return Wrap(KindConflict, "datastore conflict", err)
}
