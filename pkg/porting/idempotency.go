package porting

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// maxIdempotencyKey bounds a client's Idempotency-Key (bytes).
const maxIdempotencyKey = 255

// idempotencyMember is where a request created under a key keeps the
// key's digest and the digest of the data it was created from.
const idempotencyMember = "pvt_idempotency"

// CreateRequestOnce is CreateRequest under a client's Idempotency-Key, so
// that a client which never saw the answer (a timeout, a dropped
// connection) can send the creation again without making a second
// request. The request's id is derived from the account and the key, and
// CouchDB's create-if-absent makes the first writer win, also between
// replicas and concurrent calls: a repeat with the same data answers the
// request created first (replayed true), one with other data, or after
// that request was deleted, is refused (KindUnprocessable).
func (s *Service) CreateRequestOnce(ctx context.Context, actor *Account, accountID, key string, data Fields) (r *Request, replayed bool, err error) {
	if len(key) == 0 || len(key) > maxIdempotencyKey || !printableASCII(key) {
		return nil, false, ValidationError("Idempotency-Key", "format",
			"Idempotency-Key must be 1 to 255 printable ASCII characters", nil)
	}
	acct, err := s.Authorize(ctx, actor, accountID)
	if err != nil {
		return nil, false, err
	}
	id := idempotentID(acct.ID, key)
	keyDigest := digest([]byte(key))
	dataDigest, err := canonicalDigest(data)
	if err != nil {
		return nil, false, err
	}
	if r, err := s.createdUnder(ctx, acct.ID, id, keyDigest, dataDigest); !IsKind(err, KindNotFound) {
		return r, err == nil, err
	}
	r, err = s.createRequest(ctx, actor, acct, data, id, map[string]string{"key": keyDigest, "data": dataDigest})
	if IsKind(err, KindConflict) {
		// Another call with the key won the create.
		r, err = s.createdUnder(ctx, acct.ID, id, keyDigest, dataDigest)
		if IsKind(err, KindNotFound) {
			err = keyUsed("the request this Idempotency-Key created was deleted")
		}
		return r, err == nil, err
	}
	return r, false, err
}

// createdUnder reads request id as created under a key: KindNotFound when
// there is none, the request when it was created from the same data, and
// KindUnprocessable when the key was used otherwise.
func (s *Service) createdUnder(ctx context.Context, accountID, id, keyDigest, dataDigest string) (*Request, error) {
	r, err := s.store.GetRequest(ctx, id)
	if err != nil {
		return nil, err
	}
	var under struct{ Key, Data string }
	if raw, ok := r.Private[idempotencyMember]; ok {
		_ = json.Unmarshal(raw, &under)
	}
	switch {
	case r.AccountID != accountID || under.Key != keyDigest:
		// Not created under this key (an id chosen otherwise): never shown.
		return nil, keyUsed("the Idempotency-Key is taken")
	case r.Deleted:
		return nil, keyUsed("the request this Idempotency-Key created was deleted")
	case under.Data != dataDigest:
		return nil, keyUsed("the Idempotency-Key was used with other data")
	}
	return r, nil
}

// idempotentID is the request id of key in account: 32 hex digits, as
// Kazoo's ids, that no other account's key can give.
func idempotentID(accountID, key string) string {
	sum := sha256.Sum256([]byte("portreqd idempotency\x00" + accountID + "\x00" + key))
	return hex.EncodeToString(sum[:16])
}

// canonicalDigest digests data with every object's members sorted, at
// every depth: a client that sends the same data again in another order
// sends the same data.
func canonicalDigest(data Fields) (string, error) {
	raw, err := json.Marshal(data)
	if err == nil {
		var v any
		if err = json.Unmarshal(raw, &v); err == nil {
			raw, err = json.Marshal(v)
		}
	}
	if err != nil {
		return "", Wrap(KindInternal, "encode the request's data", err)
	}
	return digest(raw), nil
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func keyUsed(message string) *Error {
	return &Error{Kind: KindUnprocessable, Message: "unprocessable entity",
		Data: map[string]any{"Idempotency-Key": map[string]any{"unique": map[string]any{"message": message}}}}
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
