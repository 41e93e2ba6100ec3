package porting

import (
	"context"
	"slices"
)

// NotificationTemplates lists the mail templates an account may
// customise: Kazoo's teletype ids for port requests.
var NotificationTemplates = []string{"port_request", "port_request_admin", "port_pending", "port_scheduled",
	"ported", "port_rejected", "port_cancel", "port_comment"}

// NotificationTemplate is an account's own version of one mail template
// (a document "portreqd_notification.<id>" of the account's database,
// beside Kazoo's own notification.<id>, which it leaves alone): Go
// template source defining "subject", "text" and "html", or only
// Enabled false to stop that mail. Requests of the account and its
// descendants use the nearest account's version up the tree, else
// portreqd's own.
type NotificationTemplate struct {
	ID        string `json:"id"`                 // the template id (port_rejected, …)
	AccountID string `json:"account_id"`         // whose version it is ("" = portreqd's own)
	Source    string `json:"template,omitempty"` // "" = the inherited text, only Enabled set here
	Enabled   bool   `json:"enabled"`
	Modified  int64  `json:"modified,omitempty"`
}

// NotificationStore keeps accounts' templates.
type NotificationStore interface {
	// GetNotification reads account's own version of template id;
	// KindNotFound when it has none.
	GetNotification(ctx context.Context, account, id string) (*NotificationTemplate, error)
	PutNotification(ctx context.Context, t *NotificationTemplate) error
	DeleteNotification(ctx context.Context, account, id string) error
}

func (s *Service) notificationStore() (NotificationStore, error) {
	ns, ok := s.store.(NotificationStore)
	if !ok {
		return nil, E(KindNotFound, "templates are not kept by this store")
	}
	return ns, nil
}

func knownTemplate(id string) error {
	if !slices.Contains(NotificationTemplates, id) {
		return NotFound(id)
	}
	return nil
}

// EffectiveNotification is template id as mails about requests of
// account accountID use it, walking up from the account to the root:
// Enabled is the nearest version's (true when none says), Source the
// nearest non-empty one ("" = portreqd's own), AccountID whose Source it
// is. nil when no account up the tree has a version.
func (s *Service) EffectiveNotification(ctx context.Context, accountID, id string) (*NotificationTemplate, error) {
	ns, err := s.notificationStore()
	if err != nil {
		return nil, nil
	}
	acct, err := s.Account(ctx, accountID)
	if err != nil {
		return nil, err
	}
	var out *NotificationTemplate
	for _, a := range append([]string{accountID}, reversed(acct.Tree)...) {
		t, err := ns.GetNotification(ctx, a, id)
		if IsKind(err, KindNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = &NotificationTemplate{ID: id, Enabled: t.Enabled, Modified: t.Modified}
		}
		if t.Source != "" {
			out.Source, out.AccountID = t.Source, a
			break
		}
	}
	return out, nil
}

func reversed(list []string) []string {
	out := slices.Clone(list)
	slices.Reverse(out)
	return out
}

// Notification is template id as account accountID's requests use it.
func (s *Service) Notification(ctx context.Context, actor *Account, accountID, id string) (*NotificationTemplate, error) {
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return nil, err
	}
	if err := knownTemplate(id); err != nil {
		return nil, err
	}
	return s.EffectiveNotification(ctx, accountID, id)
}

// SetNotification stores account accountID's version of template id:
// source (checked by Config.CheckTemplate) and whether the mail is sent.
func (s *Service) SetNotification(ctx context.Context, actor *Account, accountID, id string, data Fields) (*NotificationTemplate, error) {
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return nil, err
	}
	if err := knownTemplate(id); err != nil {
		return nil, err
	}
	ns, err := s.notificationStore()
	if err != nil {
		return nil, err
	}
	t := &NotificationTemplate{ID: id, AccountID: accountID, Source: data.String("template"), Enabled: true, Modified: s.gregorianNow()}
	if _, ok := data["enabled"]; ok {
		t.Enabled = data.Bool("enabled")
	}
	if t.Source == "" && t.Enabled {
		return nil, ValidationError("template", "required", "give the template, or enabled false to stop this mail", nil)
	}
	if len(t.Source) > 64<<10 {
		return nil, ValidationError("template", "maxLength", "at most 64 KiB", nil)
	}
	if t.Source != "" && s.checkTemplate != nil {
		if err := s.checkTemplate(id, t.Source); err != nil {
			return nil, ValidationError("template", "format", err.Error(), nil)
		}
	}
	if err := s.retryConflict(ctx, func() error { return ns.PutNotification(ctx, t) }); err != nil {
		return nil, err
	}
	return t, nil
}

// ResetNotification removes account accountID's version of template id:
// its requests use the inherited one again.
func (s *Service) ResetNotification(ctx context.Context, actor *Account, accountID, id string) error {
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return err
	}
	if err := knownTemplate(id); err != nil {
		return err
	}
	ns, err := s.notificationStore()
	if err != nil {
		return err
	}
	return s.retryConflict(ctx, func() error { return ns.DeleteNotification(ctx, accountID, id) })
}
