package tokens_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/portreqd/portreqd/pkg/porting"
)

// kazooKey makes an RSA key as Kazoo does: 2048 bits, public exponent
// 2049 (not Go's 65537, which rsa.GenerateKey always uses).
func kazooKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	e := big.NewInt(2049)
	one := big.NewInt(1)
	for {
		p, err := rand.Prime(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		q, err := rand.Prime(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		if p.Cmp(q) == 0 {
			continue
		}
		pm, qm := new(big.Int).Sub(p, one), new(big.Int).Sub(q, one)
		phi := new(big.Int).Mul(pm, qm)
		d := new(big.Int).ModInverse(e, phi)
		if d == nil {
			continue // e shares a factor with phi
		}
		k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: new(big.Int).Mul(p, q), E: 2049}, D: d, Primes: []*big.Int{p, q}}
		if err := k.Validate(); err != nil {
			t.Fatal(err)
		}
		k.Precompute()
		return k
	}
}

// rawStore is what the fixtures write through (kazoo.Store).
type rawStore interface {
	RawPut(ctx context.Context, db string, doc *porting.RawDoc, open func(name string) (io.ReadCloser, error)) error
}

// kazooSite is the part of a Kazoo installation its tokens depend on,
// written as Kazoo writes it: the signing key under its kid in
// system_auth (a PKCS#1 PEM attachment), the server's signature secret in
// system_config/auth, and the identities' pvt_signature_secret.
type kazooSite struct {
	t      testing.TB
	store  rawStore
	kid    string
	key    *rsa.PrivateKey
	server string
}

func newKazooSite(t testing.TB, st rawStore) *kazooSite {
	t.Helper()
	k := &kazooSite{t: t, store: st, kid: "7c1b9d6f0e2a4b3c8d5e6f7a8b9c0d1e", server: "c0ffee00c0ffee00c0ffee00c0ffee00"}
	cfg, _ := json.Marshal(map[string]any{"_id": "auth", "default": map[string]any{"system_key": k.kid, "secret_for_user_signature": k.server}})
	k.put("system_config", &porting.RawDoc{ID: "auth", Body: cfg}, nil)
	k.rotate()
	return k
}

func (k *kazooSite) put(db string, doc *porting.RawDoc, open func(string) (io.ReadCloser, error)) {
	k.t.Helper()
	if err := k.store.RawPut(context.Background(), db, doc, open); err != nil {
		k.t.Fatalf("put %s/%s: %v", db, doc.ID, err)
	}
}

// rotate gives the kid a new key, as Kazoo's reset does.
func (k *kazooSite) rotate() {
	k.t.Helper()
	k.key = kazooKey(k.t)
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.key)})
	body, _ := json.Marshal(map[string]any{"_id": k.kid, "pvt_type": "system_key"})
	k.put("system_auth", &porting.RawDoc{ID: k.kid, Body: body, Attachments: map[string]porting.Attachment{
		"private_key.pem": {ContentType: "application/x-pem-file", Length: int64(len(pemBytes))}}},
		func(string) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(pemBytes)), nil })
}

// identity writes (or rewrites) a user or account document holding secret.
func (k *kazooSite) identity(account, id, typ, secret string) {
	k.t.Helper()
	body, _ := json.Marshal(map[string]any{"_id": id, "pvt_type": typ, "pvt_signature_secret": secret, "pvt_account_id": account,
		"first_name": "K", "last_name": "User", "username": "k"})
	k.put(porting.AccountDB(account), &porting.RawDoc{ID: id, Body: body}, nil)
}

// sig is identity_sig for identity id holding secret.
func (k *kazooSite) sig(id, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret+k.server))
	mac.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// mint signs claims as Kazoo does (header alg, typ JWT, kid).
func (k *kazooSite) mint(method jwt.SigningMethod, claims jwt.MapClaims) string {
	k.t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.key)
	if err != nil {
		k.t.Fatal(err)
	}
	return s
}

// userClaims are a cb_user_auth token's claims for user of account.
func (k *kazooSite) userClaims(account, user, secret string, exp time.Time) jwt.MapClaims {
	return jwt.MapClaims{"account_id": account, "owner_id": user, "method": "cb_user_auth", "iss": "kazoo",
		"exp": exp.Unix(), "identity_sig": k.sig(user, secret)}
}
