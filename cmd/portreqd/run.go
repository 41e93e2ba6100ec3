package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
	"go.uber.org/zap/zapcore"

	"github.com/portreqd/portreqd/pkg/accountcache"
	"github.com/portreqd/portreqd/pkg/api"
	"github.com/portreqd/portreqd/pkg/lnp"
	"github.com/portreqd/portreqd/pkg/notify"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/rows"
	"github.com/portreqd/portreqd/pkg/tokens"
)

// run is portreqd's whole life: parse configuration, open the store, serve
// until ctx ends, then drain in-flight requests.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) > 0 {
		var err error
		switch args[0] {
		case "healthcheck":
			err = healthcheck(ctx, args[1:], getenv, stdout)
		case "migrate":
			err = migrateCmd(ctx, args[1:], stdout)
		case "replicate":
			err = replicateCmd(ctx, args[1:], stdout)
		case "master-key":
			err = masterKeyCmd(ctx, args[1:], getenv, stdout)
		case "help":
			err = helpCmd(ctx, args[1:], getenv, stdout)
		default:
			return serveCmd(ctx, args, getenv, stdout)
		}
		if isHelp(err) {
			return nil
		}
		return err
	}
	return serveCmd(ctx, args, getenv, stdout)
}

// serveCmd serves the API until ctx ends.
func serveCmd(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cfg, err := parseConfig("portreqd", args, getenv, stdout)
	if isHelp(err) {
		return nil
	}
	if err != nil {
		return err
	}
	log, err := newLogger(cfg, stdout)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	if cfg.debugAddr != "" {
		if err := startDebug(ctx, cfg.debugAddr, log); err != nil {
			return err
		}
	}

	// The port first: a busy one fails before anything is created, and
	// a generated master key is printed only once the API can be reached.
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", cfg.listen, err)
	}
	defer ln.Close() // a no-op once served: Shutdown closes it first

	where := cfg.couchdb
	if where == "" {
		where = cfg.dataDir
	}
	mx := newServerMetrics(cfg)
	store, desc, err := openStoreWaiting(ctx, where, cfg.dbPrefix, cfg.storeWait, log, mx.engine)
	if err != nil {
		return err
	}
	defer store.Close()
	log.Info("store", zap.String("store", desc))
	if err := checkSites(ctx, cfg, store); err != nil {
		return err
	}

	docCache := cfg.docCacheMB << 20
	if docCache == 0 {
		docCache = -1 // rows: negative disables, zero means its default
	}
	slogger := slog.New(zapslog.NewHandler(log.Core())) // the domain logs through the standard library
	accounts := accountcache.New(cfg.accountCacheTTL, time.Now)
	if w, ok := store.(accountWatcher); ok && cfg.couchdb != "" {
		go watchAccounts(ctx, w, accounts, log)
	}
	site, peers, err := siteOf(ctx, cfg, store, log)
	if err != nil {
		return err
	}
	svc := porting.NewService(porting.Config{
		Store: store, Accounts: accounts, Log: slogger, Site: site, Peers: peers, CheckTemplate: notify.CheckTemplate,
		Rules: porting.Rules{
			ActivationCharge:          cfg.portActivationCharge,
			AllowSubmittedToScheduled: cfg.allowSubmittedToScheduled,
			RealmSuffix:               cfg.realmSuffix,
			Limits:                    cfg.limits,
			CompletionGrace:           cfg.completionGrace,
		}})
	if err := awaitMaster(ctx, store, peers, log); err != nil {
		return err
	}
	master, created, err := svc.Bootstrap(ctx, cfg.masterAPIKey)
	if err != nil {
		return fmt.Errorf("bootstrap master account: %w", err)
	}
	keyFile := ""
	if created && cfg.masterAPIKey == "" {
		if keyFile, err = writeMasterKey(cfg.dataDir, master.APIKey); err != nil {
			log.Warn("the generated master key could not be kept in a file: it is printed once below", zap.Error(err))
			keyFile = ""
		}
	}

	go recoverCompletions(ctx, svc, log)
	hooks, err := startNotify(ctx, cfg, store, svc, site, slogger, log)
	if err != nil {
		return err
	}
	if w, ok := store.(conflictWatcher); ok && cfg.couchdb != "" {
		go watchConflicts(ctx, w, svc, log)
	}

	secret, err := tokenSecret(ctx, cfg, store, log)
	if err != nil {
		return err
	}
	sources, err := lnpSources(cfg, log)
	if err != nil {
		return err
	}
	rd := rows.New(rows.Config{Store: store, Service: svc, DocCacheBytes: docCache, Log: slogger})
	if err := mx.watch(accounts, rd, svc, store); err != nil {
		return err
	}
	handler := api.New(api.Config{
		Observer:        mx.observer(),
		LNP:             sources,
		Timeouts:        api.Timeouts{Body: cfg.bodyTimeout, Upload: cfg.uploadTimeout},
		LoginsPerSecond: cfg.loginRate,
		LoginBurst:      cfg.loginBurst,
		Service:         svc,
		Rows:            rd,
		Tokens:          tokens.NewIssuer(secret, cfg.tokenTTL, time.Now),
		Kazoo:           kazooTokens(cfg, store, log),
		Logger:          log,
		MaxUploadBytes:  cfg.maxUploadBytes,
		TestWebhook:     hooks.Test,
	})
	return serve(ctx, cfg, log, ln, mx.mount(handler), func() { announceMaster(cfg, master, created, keyFile, log, stdout) })
}

// serve serves handler on ln until ctx ends, calling up once it serves.
func serve(ctx context.Context, cfg *config, log *zap.Logger, ln net.Listener, handler http.Handler, up func()) error {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}
	log.Info("listening", zap.String("addr", ln.Addr().String()))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	up()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", zap.Duration("grace", cfg.shutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("in-flight requests cut off at shutdown", zap.Error(err))
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

func newLogger(cfg *config, out io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cfg.logLevel)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	var enc zapcore.Encoder
	if cfg.logFormat == "console" {
		ec := zap.NewDevelopmentEncoderConfig()
		enc = zapcore.NewConsoleEncoder(ec)
	} else {
		ec := zap.NewProductionEncoderConfig()
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewJSONEncoder(ec)
	}
	core := zapcore.NewCore(enc, zapcore.AddSync(out), level)
	return zap.New(core), nil
}

// lnpSources are the portability sources configured: the table, then the
// lookup service.
func lnpSources(cfg *config, log *zap.Logger) ([]lnp.Source, error) {
	var out []lnp.Source
	if cfg.lnpTable != "" {
		t, err := lnp.LoadTable(cfg.lnpTable)
		if err != nil {
			return nil, fmt.Errorf("--lnp-table: %w", err)
		}
		log.Info("portability table", zap.String("file", cfg.lnpTable), zap.Int("blocks", t.Len()))
		out = append(out, t)
	}
	if cfg.lnpURL != "" {
		u, err := url.Parse(cfg.lnpURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--lnp-url %q: want an http(s) URL", cfg.lnpURL)
		}
		out = append(out, &lnp.HTTP{URL: cfg.lnpURL})
	}
	if len(out) == 0 {
		log.Info("no portability source (--lnp-table, --lnp-url): lnp_lookup answers every number unknown")
	}
	return out, nil
}

// recoverCompletions rolls back completions cut off half-done (a process
// killed, a store gone, between putting numbers in service and recording
// the request completed): at start and then every minute until ctx ends.
// Several replicas may run it at once.
func recoverCompletions(ctx context.Context, svc *porting.Service, log *zap.Logger) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		n, err := svc.RecoverCompletions(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("completion recovery pass failed; next pass in a minute", zap.Error(err))
		case n > 0:
			log.Warn("rolled back completions cut off half-done", zap.Int("requests", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// accountWatcher is a store that reports account writes made anywhere
// (kazoo.Store on CouchDB).
type accountWatcher interface {
	WatchAccounts(ctx context.Context, changed func(id string)) error
}

// watchAccounts keeps the account cache coherent with writes made by other
// replicas and replicated from other sites: each account written is
// dropped at once. While the feed is down the cache is flushed and entries
// live their TTL; the feed is started again after a pause that grows to a
// minute.
func watchAccounts(ctx context.Context, w accountWatcher, cache *accountcache.Cache, log *zap.Logger) {
	pause := time.Second
	for ctx.Err() == nil {
		cache.Flush() // what changed while no feed ran is unknown
		err := w.WatchAccounts(ctx, cache.Changed)
		if ctx.Err() != nil {
			return
		}
		log.Warn("account changes feed stopped; starting it again", zap.Error(err), zap.Duration("in", pause))
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Minute)
	}
}

// kazooTokens verifies Kazoo's tokens where Kazoo's databases can be: on
// CouchDB, unless --kazoo-tokens=false.
func kazooTokens(cfg *config, st store, log *zap.Logger) api.KazooTokens {
	if cfg.couchdb == "" || !cfg.kazooTokens {
		return nil
	}
	return &tokens.Kazoo{Store: st, Now: time.Now, TokenAuthTTL: cfg.kazooTokenTTL, TouchFailed: func(err error) {
		log.Warn("a Kazoo 4.0 token's last use was not recorded", zap.Error(err))
	}}
}
