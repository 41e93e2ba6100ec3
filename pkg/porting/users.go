package porting

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Users: Kazoo's user documents, so that Monster UI's login form works
// against portreqd alone and Kazoo's users log in to portreqd beside
// Kazoo. Who may manage an account's users is who may act on the account
// (its own tokens and its ancestors'), as for every resource.

// MinPasswordLength bounds a password set through portreqd (Kazoo sets
// none; a port request moves a carrier's customers).
const MinPasswordLength = 8

// userReadOnly lists members a client may send back but never sets.
var userReadOnly = map[string]bool{"id": true, "password": true, "credentials": true}

// usernamePattern is Kazoo's schema for username.
var usernamePattern = regexp.MustCompile(`^[+@.\w_-]+$`)

// userStore is the store's UserStore, or KindUnavailable.
func (s *Service) userStore() (UserStore, error) {
	us, ok := s.store.(UserStore)
	if !ok {
		return nil, E(KindUnavailable, "this store keeps no users")
	}
	return us, nil
}

// usersOf is the user store, once actor proved it may act on accountID.
func (s *Service) usersOf(ctx context.Context, actor *Account, accountID string) (UserStore, error) {
	us, err := s.userStore()
	if err != nil {
		return nil, err
	}
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return nil, err
	}
	return us, nil
}

// CreateUser adds a user to accountID from the client's data; password
// (write-only) sets its credentials.
func (s *Service) CreateUser(ctx context.Context, actor *Account, accountID string, data Fields) (*User, error) {
	us, err := s.usersOf(ctx, actor, accountID)
	if err != nil {
		return nil, err
	}
	now := s.gregorianNow()
	u := &User{ID: s.newID(), AccountID: accountID, Public: Fields{}, Other: Fields{}, Created: now, Modified: now}
	if err := s.applyUser(ctx, us, u, data, true); err != nil {
		return nil, err
	}
	name := u.Username()
	if name == "" {
		return u, us.CreateUser(ctx, u)
	}
	// A named user's id comes from its account and name, so that creates
	// of one name racing anywhere on one store meet as one document: the
	// first stands, the others conflict.
	u.ID = usernameID(accountID, name)
	err = us.CreateUser(ctx, u)
	if !IsKind(err, KindConflict) {
		return u, err
	}
	if held, gerr := us.GetUser(ctx, accountID, u.ID); gerr == nil && held.Username() == name || gerr != nil && !IsKind(gerr, KindNotFound) {
		if gerr != nil {
			return nil, gerr
		}
		return nil, notUnique(name)
	}
	// The id is taken by a user renamed or deleted since: a random one,
	// and a look afterwards for a racing create of the same name.
	u.ID = s.newID()
	if err := us.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	return u, s.usernameStillUnique(ctx, us, u)
}

// usernameID is the id a user named name gets in account: 32 hex digits,
// the shape of every Kazoo id.
func usernameID(account, name string) string {
	sum := sha256.Sum256([]byte(account + "\x00" + name))
	return hex.EncodeToString(sum[:16])
}

func notUnique(name string) error {
	return ValidationError("username", "unique", "User name is not unique for this account", map[string]any{"cause": name})
}

// UpdateUser replaces the user's public members with the client's data,
// as Kazoo's POST does; its credentials change only with a password.
func (s *Service) UpdateUser(ctx context.Context, actor *Account, accountID, id string, data Fields) (*User, error) {
	us, err := s.usersOf(ctx, actor, accountID)
	if err != nil {
		return nil, err
	}
	var out *User
	err = s.retryConflict(ctx, func() error {
		u, err := us.GetUser(ctx, accountID, id)
		if err != nil {
			return err
		}
		if err := s.applyUser(ctx, us, u, data, false); err != nil {
			return err
		}
		u.Modified = s.gregorianNow()
		if err := us.UpdateUser(ctx, u); err != nil {
			return err
		}
		out = u
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, s.usernameStillUnique(ctx, us, out)
}

// GetUser reads one of accountID's users.
func (s *Service) GetUser(ctx context.Context, actor *Account, accountID, id string) (*User, error) {
	us, err := s.usersOf(ctx, actor, accountID)
	if err != nil {
		return nil, err
	}
	return us.GetUser(ctx, accountID, id)
}

// ListUsers lists accountID's users.
func (s *Service) ListUsers(ctx context.Context, actor *Account, accountID string) ([]*User, error) {
	us, err := s.usersOf(ctx, actor, accountID)
	if err != nil {
		return nil, err
	}
	return us.ListUsers(ctx, accountID)
}

// DeleteUser soft-deletes a user (pvt_deleted, as crossbar deletes): its
// credentials log in no more, and Kazoo's tokens for it die with it.
func (s *Service) DeleteUser(ctx context.Context, actor *Account, accountID, id string) (*User, error) {
	us, err := s.usersOf(ctx, actor, accountID)
	if err != nil {
		return nil, err
	}
	var out *User
	err = s.retryConflict(ctx, func() error {
		u, err := us.GetUser(ctx, accountID, id)
		if err != nil {
			return err
		}
		u.Deleted = true
		u.Modified = s.gregorianNow()
		if err := us.UpdateUser(ctx, u); err != nil {
			return err
		}
		out = u
		return nil
	})
	return out, err
}

// LoginInput is PUT /v2/user_auth's data: Kazoo's credentials (hex MD5 or
// SHA-1 of "username:password") and the account by name or realm.
type LoginInput struct {
	Credentials string
	Method      string // "md5" (the default) or "sha"
	AccountName string
	Realm       string
}

// UserLogin finds the account and user that credentials name, as Kazoo's
// user_auth does: by realm, else by name; the first account holding a user
// with those credentials. A wrong anything is one KindUnauthorized, so
// that nothing tells which part was wrong; a disabled account or user is
// KindLocked.
func (s *Service) UserLogin(ctx context.Context, in LoginInput) (*Account, *User, error) {
	us, err := s.userStore()
	if err != nil {
		return nil, nil, err
	}
	denied := &Error{Kind: KindUnauthorized, Message: "invalid credentials", Data: map[string]any{"message": "invalid credentials"}}
	method := in.Method
	if method == "" {
		method = "md5"
	}
	if (method != "md5" && method != "sha") || !isHex(in.Credentials) {
		return nil, nil, denied
	}
	var candidates []string
	if in.Realm != "" {
		if candidates, err = s.store.AccountsByRealm(ctx, in.Realm); err != nil {
			return nil, nil, err
		}
	}
	if len(candidates) == 0 && NormalizeAccountName(in.AccountName) != "" {
		if candidates, err = us.AccountsByName(ctx, NormalizeAccountName(in.AccountName)); err != nil {
			return nil, nil, err
		}
	}
	for _, id := range candidates {
		u, err := us.UserByCredentials(ctx, id, method, strings.ToLower(in.Credentials))
		if IsKind(err, KindNotFound) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		a, err := s.Account(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		if err := s.NotExpired(a); err != nil {
			return nil, nil, err
		}
		if raw, ok := a.Other["pvt_enabled"]; ok && strings.TrimSpace(string(raw)) == "false" {
			return nil, nil, locked("account", "disabled", "account disabled", nil)
		}
		if !u.Enabled() {
			return nil, nil, locked("user", "disabled", "user disabled", nil)
		}
		return a, u, nil
	}
	return nil, nil, denied
}

// applyUser makes u's public members data's (validated as Kazoo's user
// schema) and, with a password, sets its credentials and signature
// secret.
func (s *Service) applyUser(ctx context.Context, us UserStore, u *User, data Fields, create bool) error {
	before := u.Username()
	u.Public = Fields{} // a POST replaces the public members, as Kazoo's does
	for k, v := range clientFields(data, userReadOnly) {
		u.Public[k] = v
	}
	for _, f := range []string{"first_name", "last_name"} {
		v, err := optionalString(data, f)
		if err != nil {
			return err
		}
		if v == "" {
			return ValidationError(f, "required", "Field is required but missing", nil)
		}
		if n := utf8.RuneCountInString(v); n > 128 {
			return ValidationError(f, "maxLength", "String must not be more than 128 characters", map[string]any{"target": 128})
		}
	}
	username, err := optionalString(data, "username")
	if err != nil {
		return err
	}
	username = strings.ToLower(strings.TrimSpace(username))
	if username != "" {
		if len(username) > 256 || !usernamePattern.MatchString(username) {
			return ValidationError("username", "pattern", "Failed to match pattern '^([+@.\\w_-]+)$'", map[string]any{"value": username})
		}
		u.Public.Set("username", username)
	} else {
		delete(u.Public, "username")
	}
	if email, err := optionalString(data, "email"); err != nil {
		return err
	} else if email != "" {
		if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
			return ValidationError("email", "format", "Failed to match format 'email'", map[string]any{"value": email})
		}
	}
	switch level, err := optionalString(data, "priv_level"); {
	case err != nil:
		return err
	case level == "":
		u.Public.Set("priv_level", "user")
	case level != "user" && level != "admin":
		return ValidationError("priv_level", "enum", "Value not found in enumerated list of values", map[string]any{"value": level})
	}
	if raw, ok := data["enabled"]; ok && !isNull(raw) && jsonType(raw) != "boolean" {
		return ValidationError("enabled", "type", "Value did not match type(s): boolean", map[string]any{"value": raw})
	}
	password, err := optionalString(data, "password")
	if err != nil {
		return err
	}
	switch {
	case password != "":
		if username == "" {
			return ValidationError("username", "required", "a user with a password needs a username", nil)
		}
		if utf8.RuneCountInString(password) < MinPasswordLength {
			return ValidationError("password", "minLength", "String must be at least 8 characters", map[string]any{"target": MinPasswordLength})
		}
		md5hex, sha1hex := Credentials(username, password)
		if md5hex != u.MD5Auth || sha1hex != u.SHA1Auth {
			u.MD5Auth, u.SHA1Auth, u.SignatureSecret = md5hex, sha1hex, RandomID()
		}
	case username != before && !create && u.MD5Auth != "":
		// The hashes cover the name: a new name needs the password.
		return ValidationError("password", "required", "The password must be provided when updating the user name", nil)
	}
	if u.SignatureSecret == "" {
		u.SignatureSecret = RandomID()
	}
	if username != "" && username != before {
		ids, err := us.UserIDsByUsername(ctx, u.AccountID, username)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if id != u.ID {
				return notUnique(username)
			}
		}
	}
	return nil
}

// usernameStillUnique undoes u's write when another user of its account
// took the same name at the same moment: of the two, the one with the
// greater id yields (both writers agree which), so that names stay unique
// without a lock.
func (s *Service) usernameStillUnique(ctx context.Context, us UserStore, u *User) error {
	name := u.Username()
	if name == "" {
		return nil
	}
	ids, err := us.UserIDsByUsername(ctx, u.AccountID, name)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if id < u.ID {
			if _, err := s.DeleteUser(ctx, &Account{ID: u.AccountID}, u.AccountID, u.ID); err != nil {
				return err
			}
			return notUnique(name)
		}
	}
	return nil
}

// optionalString reads a string member; "" when missing or null.
func optionalString(data Fields, key string) (string, error) {
	raw, ok := data[key]
	if !ok || isNull(raw) {
		return "", nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", ValidationError(key, "type", "Value did not match type(s): string", map[string]any{"value": raw})
	}
	return v, nil
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range strings.ToLower(s) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// locked is Kazoo's 423 for an account (or user) that is disabled, or
// whose trial has ended: a validation error's shape, which Kazoo answers
// 423 "locked" for these rules.
func locked(field, rule, message string, extra map[string]any) *Error {
	e := ValidationError(field, rule, message, extra)
	e.Kind, e.Message = KindLocked, "locked"
	return e
}
