package porting

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// MasterAccountName is the name given to the account created at first start.
const MasterAccountName = "Master Account"

// MasterAccountID is the id of the master account portreqd creates: the
// same for every process, so that several starting together on an empty
// store (or sites that start before their first replication) make one
// master, not one each. (An older master, Kazoo's or an earlier
// portreqd's, still wins: the oldest super-duper root is the master.)
const MasterAccountID = "d69b651c35fa77b0a4e2078b0d74b971"

// NewAPIKey returns a random 64-hex-character API key, Kazoo's format.
func NewAPIKey() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// Bootstrap makes sure a master account exists. When none does it creates
// one with apiKey (a random key when empty) and reports created=true so that
// the caller can tell the operator the key once.
func (s *Service) Bootstrap(ctx context.Context, apiKey string) (acct *Account, created bool, err error) {
	master, err := s.store.MasterAccount(ctx)
	if err == nil {
		return master, false, nil
	}
	if !IsKind(err, KindNotFound) {
		return nil, false, err
	}
	if apiKey == "" {
		apiKey = NewAPIKey()
	}
	now := s.gregorianNow()
	master = &Account{
		ID: MasterAccountID, Name: MasterAccountName, Tree: []string{}, APIKey: apiKey,
		SuperDuperAdmin: true, PortAuthority: true, Created: now, Modified: now, Other: Fields{},
	}
	s.kazooAccountMembers(master, &Account{Other: Fields{}})
	err = s.store.CreateAccount(ctx, master)
	if err != nil && !IsKind(err, KindConflict) {
		return nil, false, err
	}
	made := err == nil
	// Processes starting together on one store all create the master under
	// MasterAccountID: one create stands, the others conflict; everyone
	// agrees on the oldest master, so read it back rather than trusting
	// our own write.
	winner, err := s.store.MasterAccount(ctx)
	if err != nil {
		return nil, false, err
	}
	return winner, made && winner.ID == master.ID, nil
}

// SetMasterKey replaces the master account's API key with apiKey (a new
// random one when empty), for whoever holds the store: a lost or leaked
// key is not the end of the installation. Tokens already issued live out
// their lifetime; the old key logs in no more.
func (s *Service) SetMasterKey(ctx context.Context, apiKey string) (*Account, error) {
	if apiKey == "" {
		apiKey = NewAPIKey()
	}
	var master *Account
	err := s.retryConflict(ctx, func() error {
		m, err := s.store.MasterAccount(ctx)
		if err != nil {
			return err
		}
		m.APIKey = apiKey
		m.Modified = s.gregorianNow()
		if err := s.store.UpdateAccount(ctx, m); err != nil {
			return err
		}
		master = m
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.accounts.Written(master)
	return master, nil
}

// Authenticate finds the account owning apiKey. A wrong key is
// KindUnauthorized, never KindNotFound: the caller has no identity yet.
func (s *Service) Authenticate(ctx context.Context, apiKey string) (*Account, error) {
	if apiKey == "" {
		return nil, E(KindUnauthorized, "unauthorized")
	}
	a, err := s.store.AccountByAPIKey(ctx, apiKey)
	if IsKind(err, KindNotFound) {
		return nil, E(KindUnauthorized, "unauthorized")
	}
	if err != nil {
		return nil, err
	}
	s.accounts.Read(a)
	return a, nil
}

// Account returns the account id, from the account cache when it is fresh
// there (Config.Accounts). The result may be shared: callers must not
// modify it.
func (s *Service) Account(ctx context.Context, id string) (*Account, error) {
	return s.accounts.Account(ctx, id, s.readAccount)
}

// Authorize returns account id when actor may act on it (it is actor's own
// account or a descendant). An unknown account is forbidden too, so that a
// caller cannot probe which ids exist outside its subtree.
func (s *Service) Authorize(ctx context.Context, actor *Account, id string) (*Account, error) {
	a, err := s.Account(ctx, id)
	if IsKind(err, KindNotFound) {
		return nil, Forbidden("account is outside your account tree")
	}
	if err != nil {
		return nil, err
	}
	if !a.Within(actor.ID) {
		return nil, Forbidden("account is outside your account tree")
	}
	return a, nil
}

// CreateAccount creates a sub-account of parentID from the client's data.
func (s *Service) CreateAccount(ctx context.Context, actor *Account, parentID string, data Fields) (*Account, error) {
	parent, err := s.Authorize(ctx, actor, parentID)
	if err != nil {
		return nil, err
	}
	name, err := accountName(data, true)
	if err != nil {
		return nil, err
	}
	authority, err := optionalBool(data, "port_authority")
	if err != nil {
		return nil, err
	}
	if authority != nil && *authority {
		if err := s.mayMakeAuthorities(ctx, actor); err != nil {
			return nil, err
		}
	}
	now := s.gregorianNow()
	tree := append(append([]string{}, parent.Tree...), parent.ID)
	a := &Account{
		ID: s.newID(), Name: name, Tree: tree, APIKey: NewAPIKey(),
		PortAuthority: authority != nil && *authority, Created: now, Modified: now,
		Other: clientFields(data, accountReadOnly),
	}
	s.kazooAccountMembers(a, parent)
	if err := s.realmUnique(ctx, a); err != nil {
		return nil, err
	}
	if err := s.store.CreateAccount(ctx, a); err != nil {
		return nil, err
	}
	s.accounts.Written(a)
	return a, nil
}

// UpdateAccount edits account id: its name (the account itself or an
// ancestor), its port authority flag (a strict ancestor only) and other
// public members.
func (s *Service) UpdateAccount(ctx context.Context, actor *Account, id string, data Fields) (*Account, error) {
	if _, err := s.Authorize(ctx, actor, id); err != nil {
		return nil, err
	}
	name, err := accountName(data, false)
	if err != nil {
		return nil, err
	}
	authority, err := optionalBool(data, "port_authority")
	if err != nil {
		return nil, err
	}
	var updated *Account
	err = s.retryConflict(ctx, func() error {
		a, err := s.store.GetAccount(ctx, id)
		if err != nil {
			return err
		}
		if authority != nil && *authority != a.PortAuthority {
			// An echo of the flag as it is changes nothing; a change is
			// for an authority above the account.
			if !a.HasAncestor(actor.ID) {
				return Forbidden("only an ancestor account may change port_authority")
			}
			if err := s.mayMakeAuthorities(ctx, actor); err != nil {
				return err
			}
			a.PortAuthority = *authority
		}
		if name != "" {
			a.Name = name
		}
		before := a.Other.String("realm")
		for k, v := range clientFields(data, accountReadOnly) {
			a.Other[k] = v
		}
		if _, ok := data["realm"]; ok {
			a.Other.Set("realm", strings.ReplaceAll(a.Other.String("realm"), " ", ""))
			if !strings.EqualFold(a.Other.String("realm"), before) {
				if err := s.realmUnique(ctx, a); err != nil {
					return err
				}
			}
		}
		a.Modified = s.gregorianNow()
		if err := s.store.UpdateAccount(ctx, a); err != nil {
			return err
		}
		updated = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.accounts.Written(updated)
	return updated, nil
}

// Children lists the direct sub-accounts of id.
func (s *Service) Children(ctx context.Context, actor *Account, id string) ([]*Account, error) {
	if _, err := s.Authorize(ctx, actor, id); err != nil {
		return nil, err
	}
	return s.store.ChildAccounts(ctx, id)
}

// Descendants lists every account below id.
func (s *Service) Descendants(ctx context.Context, actor *Account, id string) ([]*Account, error) {
	if _, err := s.Authorize(ctx, actor, id); err != nil {
		return nil, err
	}
	return s.store.DescendantAccounts(ctx, id)
}

// accountReadOnly lists members a client may send back but never sets.
var accountReadOnly = map[string]bool{
	"id": true, "name": true, "port_authority": true, "created": true, "updated": true,
	"superduper_admin": true, "api_key": true, "tree": true, "_read_only": true,
}

// clientFields keeps the members a client may set: no private (`pvt_`),
// CouchDB (`_`) or read-only members.
func clientFields(data Fields, readOnly map[string]bool) Fields {
	out := Fields{}
	for k, v := range data {
		if readOnly[k] || strings.HasPrefix(k, "pvt_") || strings.HasPrefix(k, "_") {
			continue
		}
		out[k] = v
	}
	return out
}

func accountName(data Fields, required bool) (string, error) {
	raw, ok := data["name"]
	if !ok || isNull(raw) {
		if required {
			return "", ValidationError("name", "required", "Field is required but missing", nil)
		}
		return "", nil
	}
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return "", ValidationError("name", "type", "Value did not match type(s): string",
			map[string]any{"value": raw})
	}
	return name, checkName(name)
}

// checkName applies Kazoo's 1–128 character rule to a name.
func checkName(name string) error {
	n := utf8.RuneCountInString(strings.TrimSpace(name))
	if n < 1 {
		return ValidationError("name", "minLength", "String must be at least 1 characters",
			map[string]any{"target": 1, "value": name})
	}
	if utf8.RuneCountInString(name) > 128 {
		return ValidationError("name", "maxLength", "String must not be more than 128 characters",
			map[string]any{"target": 128})
	}
	return nil
}

func optionalBool(data Fields, key string) (*bool, error) {
	raw, ok := data[key]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, ValidationError(key, "type", "Value did not match type(s): boolean",
			map[string]any{"value": raw})
	}
	return &b, nil
}

// kazooAccountMembers sets what Kazoo's crossbar writes into a new
// account (cb_accounts / kzd_accounts): a SIP realm when the client gave
// none (random, as Kazoo's, spaces removed from a given one), pvt_enabled
// inherited from the parent (Kazoo reads an absent one as true), and
// pvt_vsn.
func (s *Service) kazooAccountMembers(a, parent *Account) {
	realm := strings.ReplaceAll(a.Other.String("realm"), " ", "")
	if realm == "" {
		suffix := s.rules.RealmSuffix
		if suffix == "" {
			suffix = DefaultRealmSuffix
		}
		id := s.newID() // random in production; its end differs between ids in tests too
		realm = id[max(len(id)-6, 0):] + "." + suffix
	}
	a.Other.Set("realm", realm)
	enabled := true
	if raw, ok := parent.Other["pvt_enabled"]; ok && string(raw) == "false" {
		enabled = false
	}
	a.Other.Set("pvt_enabled", enabled)
	a.Other.Set("pvt_vsn", "1")
}

// realmUnique refuses a's realm when another account has it, as Kazoo's
// crossbar does (validate_realm_is_unique, case-insensitive): SIP realms
// route calls to accounts. Two accounts created at once with one realm
// can both pass, as on Kazoo.
func (s *Service) realmUnique(ctx context.Context, a *Account) error {
	realm := a.Other.String("realm")
	if realm == "" {
		return nil
	}
	ids, err := s.store.AccountsByRealm(ctx, realm)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if id != a.ID {
			return ValidationError("realm", "unique", "Account realm already in use", map[string]any{"cause": realm})
		}
	}
	return nil
}

// mayMakeAuthorities refuses to let actor create or flag a port authority
// unless it is one itself (the master, a super-duper admin, an authority):
// otherwise a customer could make a sub-account its own authority and
// through it complete its own ports.
func (s *Service) mayMakeAuthorities(ctx context.Context, actor *Account) error {
	ok, err := s.isAuthority(ctx, actor)
	if err != nil {
		return err
	}
	if !ok {
		return Forbidden("only the master account or a port authority may make a port authority")
	}
	return nil
}
