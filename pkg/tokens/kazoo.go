package tokens

import (
	"context"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/portreqd/portreqd/pkg/porting"
)

// Kazoo's databases and documents its tokens are checked against.
const (
	kazooAuthDB     = "system_auth"     // signing keys: document _id = kid
	kazooKeyFile    = "private_key.pem" // the key's attachment (PKCS#1 RSA)
	kazooConfigDB   = "system_config"   // document "auth": secret_for_user_signature
	kazooTokenDB    = "token_auth"      // Kazoo 4.0's token documents
	kazooAccountsDB = "accounts"        // every account, with its pvt_tree
	kazooIssuer     = "kazoo"
)

// KazooStore is where Kazoo keeps what its tokens are checked against:
// the shared CouchDB (porting.RawStore).
type KazooStore interface {
	RawGet(ctx context.Context, db, id string) (*porting.RawDoc, error)
	RawAttachment(ctx context.Context, db, id, name string) (io.ReadCloser, error)
	// TouchToken refreshes a 4.0 token document's last use (kazoo.Store).
	TouchToken(ctx context.Context, id string, at time.Time) error
}

// Identity is who a token speaks for.
type Identity struct {
	AccountID string
	OwnerID   string // the user; "" for an API key's token
	// Via is the token's own account when it masquerades ("as") as a
	// user of AccountID: crossbar judges that account's trial, not
	// AccountID's.
	Via string
	// Method is how the token was obtained, as Kazoo names its
	// authentication modules ("cb_user_auth", "cb_api_auth"): token
	// restrictions are keyed by it.
	Method string
}

// ErrKazooToken is every refusal of a Kazoo token (wrapped with why).
var ErrKazooToken = errors.New("kazoo token refused")

// Kazoo verifies the tokens Kazoo issues, so that a gateway can send
// Monster UI's calls to portreqd beside Kazoo: Kazoo 4.3's JWTs (RS256,
// RS384 or RS512, signed with the key its system_auth database holds
// under the header's kid, bound to the user's pvt_signature_secret by
// identity_sig) and Kazoo 4.0's token_auth documents (the token is the
// document's id; it lapses TokenAuthTTL after its last use). Keys are
// read once and checked again after KeyTTL, and at once when a signature
// does not verify, so a key Kazoo rotates is picked up. A token's "as"
// masquerades as crossbar's does. Stricter than Kazoo: a JWT must carry
// exp and identity_sig.
type Kazoo struct {
	Store KazooStore
	Now   func() time.Time
	// TokenAuthTTL is Kazoo 4.0's token lifetime after last use
	// (crossbar's token_auth_expiry); 0: one hour.
	TokenAuthTTL time.Duration
	// KeyTTL bounds how long a key read is used before its document is
	// looked at again; 0: 30 s.
	KeyTTL time.Duration
	// TouchFailed hears of a 4.0 token whose last use could not be
	// recorded (the call it came with goes on); nil: not reported.
	TouchFailed func(error)

	mu       sync.Mutex
	keys     map[string]*kazooKey
	verified map[[sha256.Size]byte]verifiedKazoo
}

// verifiedKazoo is a token that verified, trusted until until: the next
// call then checks the key, the identity's secret and the document again,
// so a rotated key, a new password or a deleted user ends it within
// KeyTTL.
type verifiedKazoo struct {
	id    Identity
	until time.Time
}

type kazooKey struct {
	pub     *rsa.PublicKey
	digest  string // of the attachment read
	checked time.Time
}

func (k *Kazoo) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

// Verify returns the identity a Kazoo token carries, or an error wrapping
// ErrKazooToken (or the store's error when it did not answer).
func (k *Kazoo) Verify(ctx context.Context, token string) (Identity, error) {
	sum := sha256.Sum256([]byte(token))
	now := k.now()
	k.mu.Lock()
	v, ok := k.verified[sum]
	k.mu.Unlock()
	if ok && now.Before(v.until) {
		return v.id, nil
	}
	var (
		id  Identity
		exp time.Time
		err error
	)
	if strings.Count(token, ".") != 2 {
		id, err = k.verifyTokenAuth(ctx, token)
	} else {
		id, exp, err = k.verifyJWT(ctx, token, false)
		if errors.Is(err, errStaleKey) {
			id, exp, err = k.verifyJWT(ctx, token, true)
		}
	}
	if err != nil {
		return Identity{}, err
	}
	until := now.Add(k.keyTTL())
	if !exp.IsZero() && exp.Before(until) {
		until = exp
	}
	k.mu.Lock()
	if k.verified == nil || len(k.verified) >= verifiedMax {
		k.verified = map[[sha256.Size]byte]verifiedKazoo{}
	}
	k.verified[sum] = verifiedKazoo{id: id, until: until}
	k.mu.Unlock()
	return id, nil
}

func (k *Kazoo) keyTTL() time.Duration {
	if k.KeyTTL == 0 {
		return 30 * time.Second
	}
	return k.KeyTTL
}

var errStaleKey = errors.New("signature did not verify with the key held")

// kazooClaims are the members Kazoo writes into its JWTs.
type kazooClaims struct {
	AccountID   string  `json:"account_id"`
	OwnerID     string  `json:"owner_id"`
	DeviceID    string  `json:"device_id"`
	Method      string  `json:"method"`
	IdentitySig string  `json:"identity_sig"`
	As          kazooAs `json:"as"`
	jwt.RegisteredClaims
}

// kazooAs is Kazoo's masquerade: a token asked for with "as" (a user of
// a descendant account) acts as that user of that account once crossbar
// has checked the account descends from the token's own.
type kazooAs struct {
	AccountID string `json:"account_id"`
	OwnerID   string `json:"owner_id"`
}

func (k *Kazoo) verifyJWT(ctx context.Context, token string, reload bool) (Identity, time.Time, error) {
	claims := &kazooClaims{}
	var keyErr error
	_, err := jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			keyErr = refused("no kid")
			return nil, keyErr
		}
		pub, err := k.key(ctx, kid, reload)
		if err != nil {
			keyErr = err
		}
		return pub, err
	},
		jwt.WithValidMethods([]string{"RS256", "RS384", "RS512"}),
		jwt.WithIssuer(kazooIssuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(k.now),
	)
	switch {
	case keyErr != nil:
		return Identity{}, time.Time{}, keyErr
	case errors.Is(err, jwt.ErrTokenSignatureInvalid) && !reload:
		return Identity{}, time.Time{}, errStaleKey
	case err != nil:
		return Identity{}, time.Time{}, refused(err.Error())
	case !porting.IsID(claims.AccountID):
		return Identity{}, time.Time{}, refused("no account_id")
	}
	if err := k.checkIdentity(ctx, claims); err != nil {
		return Identity{}, time.Time{}, err
	}
	id, err := k.masquerade(ctx, Identity{AccountID: claims.AccountID, OwnerID: claims.OwnerID, Method: claims.Method}, claims.As)
	if err != nil {
		return Identity{}, time.Time{}, err
	}
	return id, claims.ExpiresAt.Time, nil
}

// masquerade applies a token's "as" as crossbar does: with both members
// given, the token acts as as.owner_id of as.account_id, which must be a
// live descendant of the token's account (not the account itself); with
// one missing, "as" is ignored.
func (k *Kazoo) masquerade(ctx context.Context, id Identity, as kazooAs) (Identity, error) {
	if as.AccountID == "" || as.OwnerID == "" {
		return id, nil
	}
	if !porting.IsID(as.AccountID) || !porting.IsID(as.OwnerID) {
		return Identity{}, refused("as: not an account and user id")
	}
	doc, err := k.Store.RawGet(ctx, kazooAccountsDB, as.AccountID)
	if porting.IsKind(err, porting.KindNotFound) {
		return Identity{}, refused("as: no such account")
	}
	if err != nil {
		return Identity{}, err
	}
	var account struct {
		Tree    []string `json:"pvt_tree"`
		Deleted bool     `json:"pvt_deleted"`
	}
	if json.Unmarshal(doc.Body, &account) != nil || account.Deleted || !slices.Contains(account.Tree, id.AccountID) {
		return Identity{}, refused("as: not a descendant of the token's account")
	}
	return Identity{AccountID: as.AccountID, OwnerID: as.OwnerID, Via: id.AccountID, Method: id.Method}, nil
}

// key is the public half of Kazoo's signing key kid, read from
// system_auth/kid's private_key.pem, from memory while fresh.
func (k *Kazoo) key(ctx context.Context, kid string, reload bool) (*rsa.PublicKey, error) {
	ttl := k.keyTTL()
	now := k.now()
	k.mu.Lock()
	held := k.keys[kid]
	k.mu.Unlock()
	if held != nil && (!reload && now.Sub(held.checked) < ttl || reload && now.Sub(held.checked) < time.Second) {
		// A signature that fails right after a read is forged, not signed
		// with a newer key: no read for each forgery.
		return held.pub, nil
	}
	doc, err := k.Store.RawGet(ctx, kazooAuthDB, kid)
	if porting.IsKind(err, porting.KindNotFound) {
		k.forget(kid)
		return nil, refused("unknown kid")
	}
	if err != nil {
		return nil, err
	}
	att, ok := doc.Attachments[kazooKeyFile]
	if !ok {
		k.forget(kid)
		return nil, refused("the kid's key is gone (rotated)")
	}
	if held != nil && att.Digest != "" && att.Digest == held.digest {
		k.remember(kid, &kazooKey{pub: held.pub, digest: held.digest, checked: now})
		return held.pub, nil
	}
	rc, err := k.Store.RawAttachment(ctx, kazooAuthDB, kid, kazooKeyFile)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	pemBytes, err := io.ReadAll(io.LimitReader(rc, 64<<10))
	if err != nil {
		return nil, err
	}
	pub, err := publicKey(pemBytes)
	if err != nil {
		return nil, refused("the kid's key: " + err.Error())
	}
	k.remember(kid, &kazooKey{pub: pub, digest: att.Digest, checked: now})
	return pub, nil
}

func (k *Kazoo) remember(kid string, key *kazooKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys == nil {
		k.keys = map[string]*kazooKey{}
	}
	k.keys[kid] = key
}

func (k *Kazoo) forget(kid string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.keys, kid)
}

// publicKey reads the RSA private key Kazoo stores (PKCS#1, or PKCS#8)
// and keeps its public half: Kazoo stores no public key.
func publicKey(pemBytes []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if priv, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return &priv.PublicKey, nil
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	priv, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	return &priv.PublicKey, nil
}

// checkIdentity verifies identity_sig: HMAC-SHA256 keyed with the
// identity's pvt_signature_secret followed by Kazoo's
// secret_for_user_signature, over the identity's id (the device, else the
// user, else the account). A new password gives the user a new secret,
// and so ends its tokens.
func (k *Kazoo) checkIdentity(ctx context.Context, c *kazooClaims) error {
	sig, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(c.IdentitySig, "="))
	if err != nil || len(sig) == 0 {
		return refused("no identity_sig")
	}
	db := porting.AccountDB(c.AccountID)
	id := c.AccountID
	switch {
	case c.DeviceID != "":
		id = c.DeviceID
	case c.OwnerID != "":
		id = c.OwnerID
	}
	doc, err := k.Store.RawGet(ctx, db, id)
	if porting.IsKind(err, porting.KindNotFound) {
		return refused("the token's identity is gone")
	}
	if err != nil {
		return err
	}
	var identity struct {
		Secret  string `json:"pvt_signature_secret"`
		Deleted bool   `json:"pvt_deleted"`
	}
	if json.Unmarshal(doc.Body, &identity) != nil || identity.Secret == "" || identity.Deleted {
		return refused("the token's identity has no signature secret")
	}
	server, err := k.serverSecret(ctx)
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, []byte(identity.Secret+server))
	mac.Write([]byte(id))
	if !hmac.Equal(mac.Sum(nil), sig) {
		return refused("identity_sig does not match")
	}
	return nil
}

// serverSecret is system_config/auth's secret_for_user_signature (under
// "default", where Kazoo's configuration keeps it, or at the top).
func (k *Kazoo) serverSecret(ctx context.Context) (string, error) {
	doc, err := k.Store.RawGet(ctx, kazooConfigDB, "auth")
	if porting.IsKind(err, porting.KindNotFound) {
		return "", refused("Kazoo's auth configuration is missing")
	}
	if err != nil {
		return "", err
	}
	var cfg struct {
		Default struct {
			Secret string `json:"secret_for_user_signature"`
		} `json:"default"`
		Secret string `json:"secret_for_user_signature"`
	}
	_ = json.Unmarshal(doc.Body, &cfg)
	if cfg.Default.Secret != "" {
		return cfg.Default.Secret, nil
	}
	if cfg.Secret != "" {
		return cfg.Secret, nil
	}
	return "", refused("no secret_for_user_signature")
}

// verifyTokenAuth checks a Kazoo 4.0 token: the id of a token_auth
// document, used within TokenAuthTTL of its last use (pvt_modified, or
// modified in older documents, Gregorian seconds).
func (k *Kazoo) verifyTokenAuth(ctx context.Context, token string) (Identity, error) {
	if token == "" || len(token) > 64 || strings.ContainsAny(token, "/?#% ") {
		return Identity{}, refused("not a token")
	}
	doc, err := k.Store.RawGet(ctx, kazooTokenDB, token)
	if porting.IsKind(err, porting.KindNotFound) {
		return Identity{}, refused("unknown token")
	}
	if err != nil {
		return Identity{}, err
	}
	var d struct {
		AccountID   string  `json:"account_id"`
		OwnerID     string  `json:"owner_id"`
		Method      string  `json:"method"`
		PvtModified int64   `json:"pvt_modified"`
		Modified    int64   `json:"modified"`
		As          kazooAs `json:"as"`
	}
	if err := json.Unmarshal(doc.Body, &d); err != nil || !porting.IsID(d.AccountID) {
		return Identity{}, refused("a token document without account_id")
	}
	last := d.PvtModified
	if last == 0 {
		last = d.Modified
	}
	ttl := k.TokenAuthTTL
	if ttl == 0 {
		ttl = time.Hour
	}
	age := time.Duration(porting.Gregorian(k.now())-last) * time.Second
	if age > ttl {
		return Identity{}, refused("expired")
	}
	id, err := k.masquerade(ctx, Identity{AccountID: d.AccountID, OwnerID: d.OwnerID, Method: d.Method}, d.As)
	if err != nil {
		return Identity{}, err
	}
	if age >= min(ttl/4, time.Minute) {
		// Crossbar refreshes a token on each use; once a minute is as
		// good for a lifetime counted in minutes, and spares a write per
		// call. A token deleted since it was read is this call's last.
		err := k.Store.TouchToken(ctx, token, k.now())
		if err != nil && !porting.IsKind(err, porting.KindNotFound) && k.TouchFailed != nil {
			// The token is a credential: never in a log.
			k.TouchFailed(errors.New(strings.ReplaceAll(err.Error(), token, "…")))
		}
	}
	return id, nil
}

func refused(why string) error { return fmt.Errorf("%w: %s", ErrKazooToken, why) }
