package kazoo

import (
	"context"
	"encoding/json"
	"errors"

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
// there.
func (s *Store) PutNotification(ctx context.Context, t *porting.NotificationTemplate) error {
	db := porting.AccountDB(t.AccountID)
	if _, err := s.dbExists(ctx, db, true); err != nil {
		return err
	}
	d := notificationDoc{ID: notificationID(t.ID), Type: notificationType, Template: t.Source, Enabled: t.Enabled, Modified: t.Modified}
	for range 5 {
		raw, err := s.eng.Get(ctx, s.db(db), d.ID, engine.GetOptions{})
		switch {
		case err == nil:
			var have struct {
				Rev string `json:"_rev"`
			}
			_ = json.Unmarshal(raw, &have)
			d.Rev = have.Rev
		case errors.Is(err, engine.ErrNotFound):
			d.Rev = ""
		default:
			return storeErr(err, d.ID)
		}
		b, err := encode(d, "notification")
		if err != nil {
			return err
		}
		if _, err = s.eng.Put(ctx, s.db(db), d.ID, b); !errors.Is(err, engine.ErrConflict) {
			return storeErr(err, d.ID)
		}
	}
	return porting.E(porting.KindConflict, "datastore conflict")
}

// DeleteNotification removes account's version of template id; nothing
// to remove is not an error.
func (s *Store) DeleteNotification(ctx context.Context, account, id string) error {
	db := s.db(porting.AccountDB(account))
	for range 5 {
		raw, err := s.eng.Get(ctx, db, notificationID(id), engine.GetOptions{})
		if errors.Is(err, engine.ErrNotFound) {
			return nil
		}
		if err != nil {
			return storeErr(err, id)
		}
		var have struct {
			Rev string `json:"_rev"`
		}
		_ = json.Unmarshal(raw, &have)
		if _, err = s.eng.Delete(ctx, db, notificationID(id), have.Rev); !errors.Is(err, engine.ErrConflict) {
			if errors.Is(err, engine.ErrNotFound) {
				return nil
			}
			return storeErr(err, id)
		}
	}
	return porting.E(porting.KindConflict, "datastore conflict")
}
