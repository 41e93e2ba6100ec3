// Package kazoosite writes, for tests, the part of a Kazoo installation
// its tokens depend on, as Kazoo writes it, and mints tokens as Kazoo
// mints them: by hand (RSASSA-PKCS1-v1_5 over base64url header and
// payload), not with the library portreqd verifies them with.
package kazoosite

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"hash"
	"io"
	"math/big"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/porting"
)

// Store is what the site is written through (kazoo.Store).
type Store interface {
	RawPut(ctx context.Context, db string, doc *porting.RawDoc, open func(name string) (io.ReadCloser, error)) error
}

// Site is Kazoo's signing key under its kid in system_auth (a PKCS#1 PEM
// attachment, private_key.pem), the server's signature secret in
// system_config/auth, and the identities' pvt_signature_secret.
type Site struct {
	KID          string
	Key          *rsa.PrivateKey
	ServerSecret string
	t            testing.TB
	store        Store
}

// New writes a site's key and configuration into st.
func New(t testing.TB, st Store) *Site {
	t.Helper()
	s := &Site{t: t, store: st, KID: "7c1b9d6f0e2a4b3c8d5e6f7a8b9c0d1e", ServerSecret: "c0ffee00c0ffee00c0ffee00c0ffee00"}
	cfg, _ := json.Marshal(map[string]any{"_id": "auth", "default": map[string]any{"system_key": s.KID, "secret_for_user_signature": s.ServerSecret}})
	s.put("system_config", &porting.RawDoc{ID: "auth", Body: cfg}, nil)
	s.Rotate()
	return s
}

func (s *Site) put(db string, doc *porting.RawDoc, open func(string) (io.ReadCloser, error)) {
	s.t.Helper()
	if err := s.store.RawPut(context.Background(), db, doc, open); err != nil {
		s.t.Fatalf("put %s/%s: %v", db, doc.ID, err)
	}
}

// Rotate gives the kid a new key, as Kazoo's key reset does.
func (s *Site) Rotate() {
	s.t.Helper()
	s.Key = Key(s.t)
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(s.Key)})
	body, _ := json.Marshal(map[string]any{"_id": s.KID, "pvt_type": "system_key"})
	s.put("system_auth", &porting.RawDoc{ID: s.KID, Body: body, Attachments: map[string]porting.Attachment{
		"private_key.pem": {ContentType: "application/x-pem-file", Length: int64(len(pemBytes))}}},
		func(string) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(pemBytes)), nil })
}

// Identity writes (or rewrites) a user (typ "user") or account document
// of account holding secret as its pvt_signature_secret. For an account
// it writes only the account database's copy, which Kazoo reads.
func (s *Site) Identity(account, id, typ, secret string) {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"_id": id, "pvt_type": typ, "pvt_signature_secret": secret, "pvt_account_id": account,
		"first_name": "K", "last_name": "User", "username": "k"})
	s.put(porting.AccountDB(account), &porting.RawDoc{ID: id, Body: body}, nil)
}

// Sig is identity_sig for identity id holding secret.
func (s *Site) Sig(id, secret string) string {
	mac := hmac.New(sha256.New, []byte(secret+s.ServerSecret))
	mac.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// UserClaims are a cb_user_auth token's claims for user of account.
func (s *Site) UserClaims(account, user, secret string, exp time.Time) map[string]any {
	return map[string]any{"identity_sig": s.Sig(user, secret), "iss": "kazoo", "account_id": account, "owner_id": user,
		"method": "cb_user_auth", "exp": exp.Unix()}
}

// Mint signs claims as Kazoo does: header {alg, typ JWT, kid}, alg
// RS256, RS384 or RS512.
func (s *Site) Mint(alg string, claims map[string]any) string {
	s.t.Helper()
	var (
		h  hash.Hash
		id crypto.Hash
	)
	switch alg {
	case "RS256":
		h, id = sha256.New(), crypto.SHA256
	case "RS384":
		h, id = sha512.New384(), crypto.SHA384
	case "RS512":
		h, id = sha512.New(), crypto.SHA512
	default:
		s.t.Fatalf("Kazoo signs no %s", alg)
	}
	header, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT", "kid": s.KID})
	payload, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	h.Write([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.Key, id, h.Sum(nil))
	if err != nil {
		s.t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// Key makes an RSA key as Kazoo does: 2048 bits, public exponent 2049
// (rsa.GenerateKey always uses 65537).
func Key(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	e, one := big.NewInt(2049), big.NewInt(1)
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
		phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
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
