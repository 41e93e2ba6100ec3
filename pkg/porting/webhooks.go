package porting

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
)

// Webhook is an account's subscription to the port events of its
// requests and its descendants' (a document of the port_webhooks
// database, shared between sites). Deliveries are signed with its secret
// as the Standard Webhooks specification says (package notify).
type Webhook struct {
	ID          string      `json:"_id"`
	Rev         string      `json:"_rev,omitempty"`
	Type        string      `json:"pvt_type"` // WebhookType
	AccountID   string      `json:"pvt_account_id"`
	URL         string      `json:"url"`
	Events      []EventType `json:"events"` // empty: every event
	Description string      `json:"description,omitempty"`
	// Secret signs deliveries: "whsec_" and base64 of 32 random bytes.
	// It is shown once, when the subscription is made.
	Secret   string `json:"pvt_secret"`
	Created  int64  `json:"pvt_created"`
	Modified int64  `json:"pvt_modified"`
}

// WebhookType is pvt_type of a webhook subscription.
const WebhookType = "port_webhook"

// Wants reports whether the subscription takes events of type t.
func (w *Webhook) Wants(t EventType) bool {
	return len(w.Events) == 0 || slices.Contains(w.Events, t)
}

// Channel is the delivery channel of the subscription.
func (w *Webhook) Channel() string { return "webhook:" + w.ID }

// Public is the subscription as the API shows it: no secret.
func (w *Webhook) Public() map[string]any {
	events := w.Events
	if events == nil {
		events = []EventType{}
	}
	return map[string]any{"id": w.ID, "url": w.URL, "events": events, "description": w.Description,
		"created": w.Created, "modified": w.Modified}
}

// WebhookStore keeps subscriptions and reads deliveries.
type WebhookStore interface {
	CreateWebhook(ctx context.Context, w *Webhook) error
	GetWebhook(ctx context.Context, id string) (*Webhook, error)
	DeleteWebhook(ctx context.Context, w *Webhook) error
	// WebhooksOf lists the subscriptions of any of accounts.
	WebhooksOf(ctx context.Context, accounts []string) ([]*Webhook, error)
	// ChannelDeliveries lists the deliveries to channel, newest first.
	ChannelDeliveries(ctx context.Context, channel string, limit int) ([]*Delivery, error)
	GetDelivery(ctx context.Context, id string) (*Delivery, error)
	UpdateDelivery(ctx context.Context, d *Delivery) error
}

func (s *Service) webhookStore() (WebhookStore, error) {
	ws, ok := s.store.(WebhookStore)
	if !ok {
		return nil, E(KindNotFound, "webhooks are not kept by this store")
	}
	return ws, nil
}

// CreateWebhook subscribes account accountID to port events: data holds
// url (http or https), events (a subset of EventTypes; empty: all) and an
// optional description. The secret is in the result, this once.
func (s *Service) CreateWebhook(ctx context.Context, actor *Account, accountID string, data Fields) (*Webhook, error) {
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return nil, err
	}
	ws, err := s.webhookStore()
	if err != nil {
		return nil, err
	}
	raw := data.String("url")
	u, perr := url.Parse(raw)
	if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return nil, ValidationError("url", "format", "an absolute http or https URL without credentials is required", nil)
	}
	var events []EventType
	if v, ok := data["events"]; ok && string(v) != "null" {
		if json.Unmarshal(v, &events) != nil {
			return nil, ValidationError("events", "type", "Value did not match type(s): array of strings", nil)
		}
		for _, e := range events {
			if !slices.Contains(EventTypes, e) {
				names := make([]string, len(EventTypes))
				for i, t := range EventTypes {
					names[i] = string(t)
				}
				return nil, ValidationError("events", "enum", "unknown event "+string(e)+"; known: "+strings.Join(names, ", "), nil)
			}
		}
	}
	desc := data.String("description")
	if len(desc) > 500 {
		return nil, ValidationError("description", "maxLength", "at most 500 characters", nil)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	now := s.gregorianNow()
	w := &Webhook{ID: s.newID(), Type: WebhookType, AccountID: accountID, URL: u.String(), Events: events,
		Description: desc, Secret: "whsec_" + base64.StdEncoding.EncodeToString(key), Created: now, Modified: now}
	if err := ws.CreateWebhook(ctx, w); err != nil {
		return nil, err
	}
	return w, nil
}

// Webhooks lists account accountID's own subscriptions.
func (s *Service) Webhooks(ctx context.Context, actor *Account, accountID string) ([]*Webhook, error) {
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return nil, err
	}
	ws, err := s.webhookStore()
	if err != nil {
		return nil, err
	}
	return ws.WebhooksOf(ctx, []string{accountID})
}

// Webhook reads subscription id of account accountID; another account's
// is not found.
func (s *Service) Webhook(ctx context.Context, actor *Account, accountID, id string) (*Webhook, error) {
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return nil, err
	}
	ws, err := s.webhookStore()
	if err != nil {
		return nil, err
	}
	w, err := ws.GetWebhook(ctx, id)
	if err != nil {
		return nil, err
	}
	if w.AccountID != accountID {
		return nil, NotFound(id)
	}
	return w, nil
}

// DeleteWebhook removes subscription id of account accountID; its
// deliveries not made yet are dropped when they come due.
func (s *Service) DeleteWebhook(ctx context.Context, actor *Account, accountID, id string) (*Webhook, error) {
	w, err := s.Webhook(ctx, actor, accountID, id)
	if err != nil {
		return nil, err
	}
	ws, _ := s.webhookStore()
	return w, ws.DeleteWebhook(ctx, w)
}

// WebhookDeliveries is the delivery log of subscription id, newest first.
func (s *Service) WebhookDeliveries(ctx context.Context, actor *Account, accountID, id string) ([]*Delivery, error) {
	w, err := s.Webhook(ctx, actor, accountID, id)
	if err != nil {
		return nil, err
	}
	ws, _ := s.webhookStore()
	return ws.ChannelDeliveries(ctx, w.Channel(), 100)
}

// ReplayDelivery delivers delivery deliveryID of subscription id again,
// whatever became of it: pending and due now, with a fresh retry window;
// its log stays.
func (s *Service) ReplayDelivery(ctx context.Context, actor *Account, accountID, id, deliveryID string) (*Delivery, error) {
	w, err := s.Webhook(ctx, actor, accountID, id)
	if err != nil {
		return nil, err
	}
	ws, _ := s.webhookStore()
	var out *Delivery
	err = s.retryConflict(ctx, func() error {
		d, err := ws.GetDelivery(ctx, deliveryID)
		if err != nil {
			return err
		}
		if d.Channel != w.Channel() {
			return NotFound(deliveryID)
		}
		now := s.now().UnixMilli()
		d.State, d.Due, d.Created, d.Lease = DeliveryPending, now, now, nil
		if err := ws.UpdateDelivery(ctx, d); err != nil {
			return err
		}
		out = d
		return nil
	})
	return out, err
}
