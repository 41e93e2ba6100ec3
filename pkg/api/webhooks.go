package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/portreqd/portreqd/pkg/porting"
)

// WebhookTester posts a test event to a subscription and returns the
// receiver's status (notify.Webhooks.Test).
type WebhookTester func(ctx context.Context, w *porting.Webhook) (int, error)

// The routes of an account's webhook subscriptions
// (/v2/accounts/{A}/port_webhooks…): create (the secret is in that answer
// only), list, get, delete, test, the delivery log and replay.

func (a *API) createWebhook(c *call) (*reply, error) {
	acct, err := c.pathID("account_id")
	if err != nil {
		return nil, err
	}
	data, err := c.data()
	if err != nil {
		return nil, err
	}
	w, err := a.svc.CreateWebhook(c.r.Context(), c.actor, acct, data)
	if err != nil {
		return nil, err
	}
	out := w.Public()
	out["secret"] = w.Secret
	return &reply{status: http.StatusCreated, data: out}, nil
}

func (a *API) listWebhooks(c *call) (*reply, error) {
	acct, err := c.pathID("account_id")
	if err != nil {
		return nil, err
	}
	ws, err := a.svc.Webhooks(c.r.Context(), c.actor, acct)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(ws))
	for i, w := range ws {
		out[i] = w.Public()
	}
	return &reply{data: out}, nil
}

// webhookIDs are the account and subscription of the path.
func (c *call) webhookIDs() (acct, id string, err error) {
	if acct, err = c.pathID("account_id"); err != nil {
		return "", "", err
	}
	id, err = c.pathID("webhook_id")
	return acct, id, err
}

func (a *API) getWebhook(c *call) (*reply, error) {
	acct, id, err := c.webhookIDs()
	if err != nil {
		return nil, err
	}
	w, err := a.svc.Webhook(c.r.Context(), c.actor, acct, id)
	if err != nil {
		return nil, err
	}
	return &reply{data: w.Public()}, nil
}

func (a *API) deleteWebhook(c *call) (*reply, error) {
	acct, id, err := c.webhookIDs()
	if err != nil {
		return nil, err
	}
	w, err := a.svc.DeleteWebhook(c.r.Context(), c.actor, acct, id)
	if err != nil {
		return nil, err
	}
	return &reply{data: w.Public()}, nil
}

func (a *API) testWebhook(c *call) (*reply, error) {
	acct, id, err := c.webhookIDs()
	if err != nil {
		return nil, err
	}
	w, err := a.svc.Webhook(c.r.Context(), c.actor, acct, id)
	if err != nil {
		return nil, err
	}
	if a.testHook == nil {
		return nil, porting.E(porting.KindNotFound, "webhooks are not delivered by this server")
	}
	status, err := a.testHook(c.r.Context(), w)
	out := map[string]any{"url": w.URL, "status": status, "delivered": err == nil && status >= 200 && status <= 299}
	if err != nil {
		out["error"] = err.Error()
	}
	return &reply{data: out}, nil
}

func (a *API) webhookDeliveries(c *call) (*reply, error) {
	acct, id, err := c.webhookIDs()
	if err != nil {
		return nil, err
	}
	ds, err := a.svc.WebhookDeliveries(c.r.Context(), c.actor, acct, id)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(ds))
	for i, d := range ds {
		out[i] = deliveryView(d)
	}
	return &reply{data: out}, nil
}

func (a *API) replayDelivery(c *call) (*reply, error) {
	acct, id, err := c.webhookIDs()
	if err != nil {
		return nil, err
	}
	did := vars(c.r)["delivery_id"]
	if !strings.HasSuffix(did, ":webhook:"+id) {
		return nil, porting.NotFound(did)
	}
	d, err := a.svc.ReplayDelivery(c.r.Context(), c.actor, acct, id, did)
	if err != nil {
		return nil, err
	}
	return &reply{data: deliveryView(d)}, nil
}

// deliveryView is a delivery as its log shows it.
func deliveryView(d *porting.Delivery) map[string]any {
	log := d.Log
	if log == nil {
		log = []porting.Attempt{}
	}
	return map[string]any{"id": d.ID, "event_id": d.Event.ID, "event": "port_request." + string(d.Event.Type),
		"port_request_id": d.Event.RequestID, "state": d.State, "attempts": d.Attempts, "next_attempt": d.Due,
		"created": d.Created, "log": log}
}

// deliveryStatus is the operator's view of the deliveries
// (GET /v2/port_deliveries): counts by state and the last failures.
func (a *API) deliveryStatus(c *call) (*reply, error) {
	st, err := a.svc.DeliveryStatus(c.r.Context(), c.actor)
	if err != nil {
		return nil, err
	}
	recent := make([]any, len(st.RecentFailures))
	for i, d := range st.RecentFailures {
		v := deliveryView(d)
		v["channel"] = d.Channel
		recent[i] = v
	}
	return &reply{data: map[string]any{"pending": st.Pending, "oldest_pending_seconds": st.OldestPendingS,
		"delivered_last_24h": st.Delivered24h, "failed": st.Failed, "recent_failures": recent}}, nil
}
