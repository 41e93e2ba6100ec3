package kazoo

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/porting"
)

// dbDeliveries holds the deliveries of events (porting.Delivery): one
// site's own work, not replicated between sites.
const dbDeliveries = "port_deliveries"

// OutboxEvents calls fn with every event of site's outboxes written at
// or after since (Gregorian seconds), oldest first.
func (s *Store) OutboxEvents(ctx context.Context, site string, since int64, fn func(porting.Event) error) error {
	q := engine.Query{StartKey: mustJSON([]any{site, since}), EndKey: mustJSON([]any{site, map[string]any{}})}
	return s.query(ctx, viewOutbox, q, func(r engine.Row) error {
		var e porting.Event
		if err := json.Unmarshal(r.Value, &e); err != nil {
			return porting.Wrap(porting.KindInternal, "decode event", err)
		}
		return fn(e)
	})
}

// CreateDeliveries stores each delivery not stored yet (by id) and
// returns how many it stored.
func (s *Store) CreateDeliveries(ctx context.Context, ds []*porting.Delivery) (int, error) {
	if len(ds) == 0 {
		return 0, nil
	}
	docs := make([][]byte, len(ds))
	for i, d := range ds {
		doc := *d
		doc.Rev, doc.Type = "", porting.DeliveryType
		b, err := encode(doc, "delivery")
		if err != nil {
			return 0, err
		}
		docs[i] = b
	}
	results, err := s.eng.Bulk(ctx, s.db(dbDeliveries), docs)
	if err != nil {
		return 0, storeErr(err, "")
	}
	made := 0
	for _, r := range results {
		switch {
		case r.Err == nil:
			made++
		case errors.Is(r.Err, engine.ErrConflict):
		default:
			return made, storeErr(r.Err, r.ID)
		}
	}
	return made, nil
}

// DueDeliveries returns up to limit pending deliveries due at now (Unix
// milliseconds), the longest due first.
func (s *Store) DueDeliveries(ctx context.Context, now int64, limit int) ([]*porting.Delivery, error) {
	var out []*porting.Delivery
	q := engine.Query{EndKey: mustJSON(now), Limit: limit, IncludeDocs: true}
	err := s.query(ctx, viewDeliveriesDue, q, func(r engine.Row) error {
		var d porting.Delivery
		if err := json.Unmarshal(r.Doc, &d); err != nil {
			return porting.Wrap(porting.KindInternal, "decode delivery", err)
		}
		out = append(out, &d)
		return nil
	})
	return out, err
}

// GetDelivery reads delivery id.
func (s *Store) GetDelivery(ctx context.Context, id string) (*porting.Delivery, error) {
	raw, err := s.getDoc(ctx, dbDeliveries, id)
	if err != nil {
		return nil, err
	}
	var d porting.Delivery
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, porting.Wrap(porting.KindInternal, "decode delivery", err)
	}
	return &d, nil
}

// UpdateDelivery writes d over its Rev and sets the new one; KindConflict
// when another worker wrote it meanwhile.
func (s *Store) UpdateDelivery(ctx context.Context, d *porting.Delivery) error {
	d.Type = porting.DeliveryType
	b, err := encode(d, "delivery")
	if err != nil {
		return err
	}
	rev, err := s.put(ctx, dbDeliveries, d.ID, b)
	if err != nil {
		return err
	}
	d.Rev = rev
	return nil
}

// PortSupportEmail is account's port support address, where Kazoo keeps
// it: port.support_email of the whitelabel document in the account's
// database; "" when it has none.
func (s *Store) PortSupportEmail(ctx context.Context, accountID string) (string, error) {
	raw, err := s.getDoc(ctx, porting.AccountDB(accountID), "whitelabel")
	if porting.IsKind(err, porting.KindNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var wl struct {
		Port struct {
			SupportEmail string `json:"support_email"`
		} `json:"port"`
	}
	_ = json.Unmarshal(raw, &wl)
	return wl.Port.SupportEmail, nil
}

// DeliveryStatus counts the deliveries by state (view by_state, keys
// only) and reads the recent failures.
func (s *Store) DeliveryStatus(ctx context.Context, now int64, recent int) (*porting.DeliveryStatus, error) {
	st := &porting.DeliveryStatus{}
	count := func(state string, from int64, each func(created int64)) error {
		q := engine.Query{StartKey: mustJSON([]any{state, from}), EndKey: mustJSON([]any{state, map[string]any{}})}
		return s.query(ctx, viewDeliveriesByState, q, func(r engine.Row) error {
			var k []json.RawMessage
			var created int64
			if json.Unmarshal(r.Key, &k) == nil && len(k) == 2 {
				_ = json.Unmarshal(k[1], &created)
			}
			each(created)
			return nil
		})
	}
	if err := count(porting.DeliveryPending, 0, func(created int64) {
		if st.Pending == 0 {
			st.OldestPendingS = max(0, (now-created)/1000)
		}
		st.Pending++
	}); err != nil {
		return nil, err
	}
	if err := count(porting.DeliveryDone, now-24*3600*1000, func(int64) { st.Delivered24h++ }); err != nil {
		return nil, err
	}
	if err := count(porting.DeliveryFailed, 0, func(int64) { st.Failed++ }); err != nil {
		return nil, err
	}
	q := engine.Query{StartKey: mustJSON([]any{porting.DeliveryFailed, map[string]any{}}), EndKey: mustJSON([]any{porting.DeliveryFailed}),
		Descending: true, Limit: recent, IncludeDocs: true}
	err := s.query(ctx, viewDeliveriesByState, q, func(r engine.Row) error {
		var d porting.Delivery
		if json.Unmarshal(r.Doc, &d) == nil {
			st.RecentFailures = append(st.RecentFailures, &d)
		}
		return nil
	})
	return st, err
}
