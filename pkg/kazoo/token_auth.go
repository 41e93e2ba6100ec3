package kazoo

import (
	"context"
	"encoding/json"
	"time"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/porting"
)

// dbTokenAuth is Kazoo 4.0's token database: one document per token.
const dbTokenAuth = "token_auth"

// TouchToken sets a Kazoo 4.0 token document's pvt_modified to at, as
// crossbar does on each use, so that a session kept busy on portreqd's
// routes alone does not lapse. The write is at the revision read: a token
// deleted meanwhile (a logout, Kazoo's cleanup) stays deleted, and one
// written meanwhile is left as its writer left it (both nil).
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	raw, err := s.eng.Get(ctx, s.db(dbTokenAuth), id, engine.GetOptions{})
	// The id is a credential: errors name "token", never it.
	if isNotFound(err) {
		return porting.NotFound("token")
	}
	if err != nil {
		return storeErr(err, "token")
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(raw, &body); err != nil {
		return porting.Wrap(porting.KindInternal, "decode token", err)
	}
	body["pvt_modified"] = mustJSON(porting.Gregorian(at))
	out, err := encode(body, "token")
	if err != nil {
		return err
	}
	_, err = s.eng.Put(ctx, s.db(dbTokenAuth), id, out)
	if isConflict(err) || isNotFound(err) {
		return nil
	}
	return storeErr(err, "token")
}
