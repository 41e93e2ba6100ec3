package kazoo

import (
	"context"
	"encoding/json"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/porting"
)

var _ porting.NotificationStore = (*Store)(nil)

// notificationDoc is an account's version of a mail template, in the
// account's database beside Kazoo's notification.<id> documents (whose
// bodies are Kazoo's template language, not Go's).
type notificationDoc struct {
	ID       string `json:"_id"`
	Rev      string `json:"_rev,omitempty"`
	Type     string `json:"pvt_type"`
	Template string `json:"template,omitempty"`
	Enabled  bool   `json:"enabled"`
	Modified int64  `json:"pvt_modified"`
}

const notificationType = "portreqd_notification"

func notificationID(id string) string { return notificationType + "." + id }

// GetNotification reads account's own version of template id.
func (s *Store) GetNotification(ctx context.Context, account, id string) (*porting.NotificationTemplate, error) {
	raw, err := s.getDoc(ctx, porting.AccountDB(account), notificationID(id))
	if err != nil {
		return nil, err
	}
	var d notificationDoc
	if err := json.Unmarshal(raw, &d); err != nil || d.Type != notificationType {
		return nil, porting.NotFound(id)
	}
	return &porting.NotificationTemplate{ID: id, AccountID: account, Source: d.Template, Enabled: d.Enabled, Modified: d.Modified}, nil
}

// PutNotification writes t as its account's version, over whatever is
// there; KindConflict when another write came between.
func (s *Store) PutNotification(ctx context.Context, t *porting.NotificationTemplate) error {
	d := notificationDoc{ID: notificationID(t.ID), Type: notificationType, Template: t.Source, Enabled: t.Enabled, Modified: t.Modified}
	b, err := encode(d, "notification")
	if err != nil {
		return err
	}
	return s.RawPut(ctx, porting.AccountDB(t.AccountID), &porting.RawDoc{ID: d.ID, Body: b}, nil)
}

// DeleteNotification removes account's version of template id; nothing
// to remove is not an error, a write in between is KindConflict.
func (s *Store) DeleteNotification(ctx context.Context, account, id string) error {
	db := s.db(porting.AccountDB(account))
	raw, err := s.eng.Get(ctx, db, notificationID(id), engine.GetOptions{})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return storeErr(err, id)
	}
	if _, err := s.eng.Delete(ctx, db, notificationID(id), revOf(raw)); err != nil && !isNotFound(err) {
		return storeErr(err, id)
	}
	return nil
}
