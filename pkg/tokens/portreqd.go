// Package tokens issues and verifies the tokens the API accepts:
// portreqd's own (HMAC-SHA256 JWTs, Issuer) and Kazoo's (Kazoo), so that
// portreqd can sit beside Kazoo behind one API root. It alone imports the
// JWT library.
package tokens

import (
	"crypto/sha256"
	"errors"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/portreqd/portreqd/pkg/porting"
)

// Issuer issues and verifies portreqd's auth tokens: HMAC-SHA256 JWTs
// carrying the account id, the user (owner_id) when a user logged in, and
// an expiry. Any replica holding the same secret verifies any other's
// tokens, so nothing about sessions is stored.
//
// A client sends the same token with every call, and parsing and checking
// it was an eighth of the CPU of a one-document GET (profiled with the load
// tool), so tokens that verified are remembered, by their SHA-256, until
// they expire. Nothing else can make a token valid again or invalid early:
// a remembered answer is the answer verification would give.
type Issuer struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time

	mu       sync.Mutex
	verified map[[sha256.Size]byte]verifiedToken
}

type verifiedToken struct {
	id      Identity
	expires time.Time
}

// verifiedMax bounds the remembered tokens; when full, expired ones go, and
// if none has, all of them (the next calls verify again).
const verifiedMax = 10000

// NewIssuer makes a token issuer; now is the clock (time.Now in production).
func NewIssuer(secret []byte, ttl time.Duration, now func() time.Time) *Issuer {
	return &Issuer{secret: secret, ttl: ttl, now: now, verified: map[[sha256.Size]byte]verifiedToken{}}
}

// tokenIssuer names the issuer claim so that tokens of other systems sharing
// a secret by accident are refused.
const tokenIssuer = "portreqd"

// issuedClaims are a portreqd token's claims: the account is the subject;
// owner_id (Kazoo's name) the user who logged in, absent for an API key.
type issuedClaims struct {
	jwt.RegisteredClaims
	OwnerID string `json:"owner_id,omitempty"`
}

// Issue returns a token for accountID, speaking for no user (api_auth).
func (t *Issuer) Issue(accountID string) (string, error) {
	return t.IssueFor(Identity{AccountID: accountID})
}

// IssueFor returns a token for id: its account and, after a user's
// login, its user, so that what the token's calls write names the user
// and auth/tokeninfo can resume the user's session.
func (t *Issuer) IssueFor(id Identity) (string, error) {
	now := t.now()
	claims := issuedClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    tokenIssuer,
			Subject:   id.AccountID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
		},
		OwnerID: id.OwnerID,
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.secret)
}

// Verify returns who a valid, unexpired token speaks for.
func (t *Issuer) Verify(token string) (Identity, error) {
	key := sha256.Sum256([]byte(token))
	now := t.now()
	t.mu.Lock()
	v, ok := t.verified[key]
	t.mu.Unlock()
	if ok && now.Before(v.expires) {
		return v.id, nil
	}
	claims := &issuedClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(tokenIssuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil {
		return Identity{}, err
	}
	if claims.Subject == "" {
		return Identity{}, errors.New("token carries no account")
	}
	// Named as Kazoo names the logins that issue such tokens.
	id := Identity{AccountID: claims.Subject, OwnerID: claims.OwnerID, Method: porting.UserAuthMethod}
	if id.OwnerID == "" {
		id.Method = porting.APIAuthMethod
	}
	t.remember(key, verifiedToken{id: id, expires: claims.ExpiresAt.Time})
	return id, nil
}

func (t *Issuer) remember(key [sha256.Size]byte, v verifiedToken) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.verified) >= verifiedMax {
		now := t.now()
		for k, e := range t.verified {
			if !now.Before(e.expires) {
				delete(t.verified, k)
			}
		}
		if len(t.verified) >= verifiedMax {
			clear(t.verified)
		}
	}
	t.verified[key] = v
}
