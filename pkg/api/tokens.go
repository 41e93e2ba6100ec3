package api

import (
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Tokens issues and verifies auth tokens: HMAC-SHA256 JWTs carrying the
// account id and an expiry. Any replica holding the same secret verifies any
// other's tokens, so nothing about sessions is stored.
type Tokens struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
}

// NewTokens makes a token issuer; now is the clock (time.Now in production).
func NewTokens(secret []byte, ttl time.Duration, now func() time.Time) *Tokens {
	return &Tokens{secret: secret, ttl: ttl, now: now}
}

// tokenIssuer names the issuer claim so that tokens of other systems sharing
// a secret by accident are refused.
const tokenIssuer = "portreqd"

// Issue returns a token for accountID.
func (t *Tokens) Issue(accountID string) (string, error) {
	now := t.now()
	claims := jwt.RegisteredClaims{
		Issuer:    tokenIssuer,
		Subject:   accountID,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(t.secret)
}

// Verify returns the account id a valid, unexpired token carries.
func (t *Tokens) Verify(token string) (string, error) {
	claims := &jwt.RegisteredClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return t.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(tokenIssuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(t.now),
	)
	if err != nil {
		return "", err
	}
	if claims.Subject == "" {
		return "", errors.New("token carries no account")
	}
	return claims.Subject, nil
}
