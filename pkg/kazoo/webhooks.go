package kazoo

import (
	"context"
	"encoding/json"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/porting"
)

// dbWebhooks holds the webhook subscriptions (porting.Webhook), shared
// between sites: a site delivers its own events to every subscription.
const dbWebhooks = "port_webhooks"

var _ porting.WebhookStore = (*Store)(nil)

// CreateWebhook stores w, setting its Rev.
func (s *Store) CreateWebhook(ctx context.Context, w *porting.Webhook) error {
	b, err := encode(w, "webhook")
	if err != nil {
		return err
	}
	rev, err := s.put(ctx, dbWebhooks, w.ID, b)
	if err != nil {
		return err
	}
	w.Rev = rev
	return nil
}

// GetWebhook reads subscription id.
func (s *Store) GetWebhook(ctx context.Context, id string) (*porting.Webhook, error) {
	raw, err := s.getDoc(ctx, dbWebhooks, id)
	if err != nil {
		return nil, err
	}
	var w porting.Webhook
	if err := json.Unmarshal(raw, &w); err != nil || w.Type != porting.WebhookType {
		return nil, porting.NotFound(id)
	}
	return &w, nil
}

// DeleteWebhook deletes w at its Rev.
func (s *Store) DeleteWebhook(ctx context.Context, w *porting.Webhook) error {
	_, err := s.eng.Delete(ctx, s.db(dbWebhooks), w.ID, w.Rev)
	return storeErr(err, w.ID)
}

// WebhooksOf lists the subscriptions of any of accounts.
func (s *Store) WebhooksOf(ctx context.Context, accounts []string) ([]*porting.Webhook, error) {
	keys := make([][]byte, len(accounts))
	for i, a := range accounts {
		keys[i] = mustJSON(a)
	}
	var out []*porting.Webhook
	err := s.query(ctx, viewWebhooksByAccount, engine.Query{Keys: keys, IncludeDocs: true}, func(r engine.Row) error {
		var w porting.Webhook
		if len(r.Doc) == 0 || json.Unmarshal(r.Doc, &w) != nil {
			return nil
		}
		out = append(out, &w)
		return nil
	})
	return out, err
}

// ChannelDeliveries lists the deliveries to channel, newest first.
func (s *Store) ChannelDeliveries(ctx context.Context, channel string, limit int) ([]*porting.Delivery, error) {
	q := engine.Query{StartKey: mustJSON([]any{channel, map[string]any{}}), EndKey: mustJSON([]any{channel}),
		Descending: true, Limit: limit, IncludeDocs: true}
	var out []*porting.Delivery
	err := s.query(ctx, viewDeliveriesByChannel, q, func(r engine.Row) error {
		var d porting.Delivery
		if err := json.Unmarshal(r.Doc, &d); err != nil {
			return porting.Wrap(porting.KindInternal, "decode delivery", err)
		}
		out = append(out, &d)
		return nil
	})
	return out, err
}
