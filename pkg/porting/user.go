package porting

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"strings"
)

// User is a Kazoo user document, kept where Kazoo keeps it (the account's
// database, pvt_type "user") so that Kazoo and portreqd log in the same
// people: Kazoo's hashes of "username:password" (pvt_md5_auth,
// pvt_sha1_auth), never the password.
type User struct {
	ID        string
	Rev       string
	AccountID string
	// Public holds the members a client reads and writes: first_name,
	// last_name, username (lower case), email, priv_level, enabled, …
	Public Fields
	// MD5Auth and SHA1Auth are the hex MD5 and SHA-1 of
	// "username:password" (Kazoo's credentials).
	MD5Auth, SHA1Auth string
	// SignatureSecret binds Kazoo 4.3 tokens to the user; a new password
	// makes a new one, so that the old tokens die (Kazoo's rule).
	SignatureSecret string
	Deleted         bool
	Created         int64
	Modified        int64
	// Other keeps the private members portreqd does not use, so that a
	// write keeps what Kazoo wrote.
	Other Fields
}

// Username is the user's login name, lower case ("" when it has none).
func (u *User) Username() string { return u.Public.String("username") }

// Enabled is false only for a user disabled explicitly.
func (u *User) Enabled() bool {
	raw, ok := u.Public["enabled"]
	return !ok || isNull(raw) || strings.TrimSpace(string(raw)) != "false"
}

// Admin tells whether the user has priv_level admin.
func (u *User) Admin() bool { return u.Public.String("priv_level") == "admin" }

// UserType is the pvt_type of user documents.
const UserType = "user"

// UserStore keeps users in their accounts' databases.
type UserStore interface {
	// CreateUser stores a new user (u.ID set); it sets u.Rev.
	CreateUser(ctx context.Context, u *User) error
	// UpdateUser replaces the user at u.Rev (KindConflict when stale).
	UpdateUser(ctx context.Context, u *User) error
	// GetUser reads user id of account; KindNotFound when missing,
	// deleted or no user.
	GetUser(ctx context.Context, accountID, id string) (*User, error)
	// ListUsers lists account's users (not deleted), by id.
	ListUsers(ctx context.Context, accountID string) ([]*User, error)
	// UserIDsByUsername lists the ids of account's users named username.
	UserIDsByUsername(ctx context.Context, accountID, username string) ([]string, error)
	// UserByCredentials finds account's user whose hash (method "md5" or
	// "sha") is credentials; KindNotFound when none.
	UserByCredentials(ctx context.Context, accountID, method, credentials string) (*User, error)
	// AccountsByName lists the ids of the accounts whose name is name
	// once normalized (NormalizeAccountName), as Kazoo's
	// accounts/listing_by_name finds them.
	AccountsByName(ctx context.Context, name string) ([]string, error)
}

// Credentials are Kazoo's login hashes of username and password: hex MD5
// and SHA-1 of "username:password", the name in lower case.
func Credentials(username, password string) (md5hex, sha1hex string) {
	in := []byte(strings.ToLower(username) + ":" + password)
	m := md5.Sum(in)
	s := sha1.Sum(in)
	return hex.EncodeToString(m[:]), hex.EncodeToString(s[:])
}

// NormalizeAccountName is an account name as Kazoo indexes it for
// user_auth: lower case, letters and digits only.
func NormalizeAccountName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// userKnown are the members User holds outside Public and Other.
var userKnown = map[string]bool{"_id": true, "_rev": true, "pvt_type": true, "pvt_account_id": true, "pvt_account_db": true,
	"pvt_md5_auth": true, "pvt_sha1_auth": true, "pvt_signature_secret": true, "pvt_deleted": true,
	"pvt_created": true, "pvt_modified": true}

// MarshalJSON writes the Kazoo user document.
func (u *User) MarshalJSON() ([]byte, error) {
	doc := Fields{}
	for k, v := range u.Other {
		doc[k] = v
	}
	for k, v := range u.Public {
		doc[k] = v
	}
	doc.Set("_id", u.ID)
	if u.Rev != "" {
		doc.Set("_rev", u.Rev)
	}
	doc.Set("pvt_type", UserType)
	doc.Set("pvt_account_id", u.AccountID)
	doc.Set("pvt_account_db", EncodedDB(AccountDB(u.AccountID)))
	doc.Set("pvt_created", u.Created)
	doc.Set("pvt_modified", u.Modified)
	if _, ok := doc["pvt_vsn"]; !ok {
		doc.Set("pvt_vsn", "1")
	}
	for k, v := range map[string]string{"pvt_md5_auth": u.MD5Auth, "pvt_sha1_auth": u.SHA1Auth, "pvt_signature_secret": u.SignatureSecret} {
		if v != "" {
			doc.Set(k, v)
		}
	}
	if u.Deleted {
		doc.Set("pvt_deleted", true)
	}
	return json.Marshal(doc)
}

// UnmarshalJSON reads a Kazoo user document: members starting with _ or
// pvt_ are private, the rest public, as crossbar shows them.
func (u *User) UnmarshalJSON(b []byte) error {
	var doc Fields
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	out := User{ID: doc.String("_id"), Rev: doc.String("_rev"), AccountID: doc.String("pvt_account_id"),
		MD5Auth: doc.String("pvt_md5_auth"), SHA1Auth: doc.String("pvt_sha1_auth"),
		SignatureSecret: doc.String("pvt_signature_secret"), Deleted: doc.Bool("pvt_deleted"),
		Public: Fields{}, Other: Fields{}}
	_ = json.Unmarshal(doc["pvt_created"], &out.Created)
	_ = json.Unmarshal(doc["pvt_modified"], &out.Modified)
	for k, v := range doc {
		switch {
		case userKnown[k]:
		case strings.HasPrefix(k, "_") || strings.HasPrefix(k, "pvt_"):
			out.Other[k] = v
		default:
			out.Public[k] = v
		}
	}
	*u = out
	return nil
}
