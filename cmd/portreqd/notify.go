package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/loa"
	"github.com/portreqd/portreqd/pkg/notify"
	"github.com/portreqd/portreqd/pkg/porting"
)

// startNotify runs the notification worker of this site's events until
// ctx ends: webhooks to every subscription, and e-mail to each audience
// when --smtp-addr is given. It returns the webhook channel, whose test
// deliveries the API makes.
func startNotify(ctx context.Context, cfg *config, store any, svc *porting.Service, site string, slogger *slog.Logger, log *zap.Logger) (*notify.Webhooks, error) {
	st, ok := store.(interface {
		notify.Store
		notify.MailStore
		notify.WebhookStore
	})
	if !ok {
		return nil, fmt.Errorf("the store cannot keep notifications")
	}
	hooks := &notify.Webhooks{Store: st, AllowPrivate: cfg.webhookAllowPrivate}
	chans := []notify.Channel{hooks, &notify.SubmittedURL{Store: st, Account: svc.Account, MarkSent: svc.MarkSent, AllowPrivate: cfg.webhookAllowPrivate}}
	if cfg.smtp.addr != "" {
		conf := notify.SMTP{Addr: cfg.smtp.addr, TLS: cfg.smtp.tls, Username: cfg.smtp.username, Password: cfg.smtp.password, From: cfg.smtp.from}
		var defaultTo []string
		for _, a := range strings.Split(cfg.smtp.defaultTo, ",") {
			if a = strings.TrimSpace(a); a != "" {
				defaultTo = append(defaultTo, a)
			}
		}
		for _, aud := range []string{notify.AudienceSubmitter, notify.AudienceAuthority} {
			chans = append(chans, &notify.Email{Audience: aud, SMTP: conf, Store: st, Authority: svc.RequestAuthority, DefaultTo: defaultTo,
				Effective: svc.EffectiveNotification, LOA: renderLOA(svc)})
		}
		log.Info("port events are mailed", zap.String("smtp", cfg.smtp.addr), zap.String("tls", cfg.smtp.tls), zap.Bool("auth", cfg.smtp.username != ""))
	} else {
		log.Info("no --smtp-addr: port events are recorded but not mailed")
	}
	w := &notify.Worker{Store: st, Site: site, Channels: chans, Log: slogger}
	go func() { _ = w.Run(ctx) }()
	return hooks, nil
}

// renderLOA renders a request's letter for the submission mails.
func renderLOA(svc *porting.Service) func(ctx context.Context, r *porting.Request) ([]byte, error) {
	return func(ctx context.Context, r *porting.Request) ([]byte, error) {
		d, err := svc.LOAOf(ctx, r)
		if err != nil {
			return nil, err
		}
		return loa.Render(loa.FromData(d))
	}
}
