package api

import (
	"github.com/portreqd/portreqd/pkg/porting"
)

// The routes of an account's mail templates
// (/v2/accounts/{A}/port_notifications…): which templates exist, the one
// the account's requests use, the account's own version (stored, or
// removed to inherit again).

func (a *API) listNotifications(c *call) (*reply, error) {
	acct, err := c.pathID("account_id")
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(porting.NotificationTemplates))
	for _, id := range porting.NotificationTemplates {
		t, err := a.svc.Notification(c.r.Context(), c.actor, acct, id)
		if err != nil {
			return nil, err
		}
		out = append(out, notificationView(id, t, false))
	}
	return &reply{data: out}, nil
}

func (a *API) getNotification(c *call) (*reply, error) {
	acct, err := c.pathID("account_id")
	if err != nil {
		return nil, err
	}
	id := vars(c.r)["template_id"]
	t, err := a.svc.Notification(c.r.Context(), c.actor, acct, id)
	if err != nil {
		return nil, err
	}
	return &reply{data: notificationView(id, t, true)}, nil
}

func (a *API) setNotification(c *call) (*reply, error) {
	acct, err := c.pathID("account_id")
	if err != nil {
		return nil, err
	}
	data, err := c.data()
	if err != nil {
		return nil, err
	}
	id := vars(c.r)["template_id"]
	if _, err := a.svc.SetNotification(c.r.Context(), c.actor, acct, id, data); err != nil {
		return nil, err
	}
	t, err := a.svc.Notification(c.r.Context(), c.actor, acct, id)
	if err != nil {
		return nil, err
	}
	return &reply{data: notificationView(id, t, true)}, nil
}

func (a *API) resetNotification(c *call) (*reply, error) {
	acct, err := c.pathID("account_id")
	if err != nil {
		return nil, err
	}
	id := vars(c.r)["template_id"]
	if err := a.svc.ResetNotification(c.r.Context(), c.actor, acct, id); err != nil {
		return nil, err
	}
	t, err := a.svc.Notification(c.r.Context(), c.actor, acct, id)
	if err != nil {
		return nil, err
	}
	return &reply{data: notificationView(id, t, true)}, nil
}

// notificationView says where template id comes from for an account:
// "portreqd" (the built-in one) or the account whose version it is; with
// source, its text when it is an account's.
func notificationView(id string, t *porting.NotificationTemplate, source bool) map[string]any {
	v := map[string]any{"id": id, "enabled": true, "template_from": "portreqd"}
	if t == nil {
		return v
	}
	v["enabled"] = t.Enabled
	if t.Source != "" {
		v["template_from"] = t.AccountID
		if source {
			v["template"] = t.Source
		}
	}
	return v
}
