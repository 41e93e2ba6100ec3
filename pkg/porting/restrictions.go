package porting

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
)

// Kazoo's token restrictions (crossbar's cb_token_restrictions): an
// operator limits what tokens may do, per authentication method and
// user privilege level, in the account's token_restrictions document or
// in system_config's crossbar.token_restrictions. Crossbar checks them on
// every call of every token; portreqd does the same, so that a token
// Kazoo would refuse on a port route is refused here too.

const (
	restrictionsDoc       = "token_restrictions"
	restrictionsConfigDB  = "system_config"
	restrictionsConfigDoc = "crossbar.token_restrictions"
	catchAll              = "_"
)

// TokenCall is a call as crossbar matches restrictions against it.
type TokenCall struct {
	Endpoint string   // the path's last resource ("port_requests", "accounts", …)
	Params   []string // the path's segments after that resource
	Account  string   // the account the path names; "" for none
	Verb     string   // the HTTP method
}

// TokenHolder is who a token speaks for, as restrictions are looked up.
type TokenHolder struct {
	Method    string // "cb_api_auth", "cb_user_auth", …
	AccountID string
	OwnerID   string // "" for an API key's token
}

// APIAuthMethod and UserAuthMethod name portreqd's own logins as Kazoo
// names its authentication modules, which restrictions are keyed by.
const (
	APIAuthMethod  = "cb_api_auth"
	UserAuthMethod = "cb_user_auth"
)

// Restrictions are the restrictions of one token holder, read once and
// matched against every call (RestrictionsAllow): by endpoint, the
// entries in the order written.
type Restrictions struct {
	byEndpoint map[string][]restrictionEntry
	malformed  map[string]bool // endpoints whose list does not read: refused
}

type restrictionEntry struct {
	accounts []string // nil: any
	rules    []restrictionRule
}

type restrictionRule struct {
	pattern []string
	verbs   []string
}

// ParseRestrictions reads a holder's restrictions (crossbar's object of
// endpoints, each a list of {allowed_accounts, rules}); nil for none.
func ParseRestrictions(raw json.RawMessage) *Restrictions {
	if present(raw) == nil {
		return nil
	}
	out := &Restrictions{byEndpoint: map[string][]restrictionEntry{}, malformed: map[string]bool{}}
	var byEndpoint map[string]json.RawMessage
	if json.Unmarshal(raw, &byEndpoint) != nil {
		return out // not an object: nothing matches, everything is refused
	}
	for endpoint, entriesRaw := range byEndpoint {
		if t := bytes.TrimSpace(entriesRaw); len(t) == 0 || t[0] != '[' {
			continue // not a list: as absent, crossbar looks at "_"
		}
		var entries []struct {
			AllowedAccounts []string        `json:"allowed_accounts"`
			Rules           json.RawMessage `json:"rules"`
		}
		if json.Unmarshal(entriesRaw, &entries) != nil {
			out.malformed[endpoint] = true
			continue
		}
		list := []restrictionEntry{}
		for _, e := range entries {
			entry := restrictionEntry{accounts: e.AllowedAccounts}
			keys, rules := orderedMembers(e.Rules)
			for _, k := range keys {
				var verbs []string
				_ = json.Unmarshal(rules[k], &verbs)
				entry.rules = append(entry.rules, restrictionRule{pattern: splitRule(k), verbs: verbs})
			}
			list = append(list, entry)
		}
		out.byEndpoint[endpoint] = list
	}
	return out
}

// TokenRestrictions are the restrictions crossbar applies to tokens of h:
// none for the super-duper admin's; else the account's token_restrictions
// document's restrictions for h.Method (or "_"), or else the system's,
// narrowed to user's priv_level (or "_"; the system's default_priv_level
// without a user, as for API keys). nil: unrestricted.
func (s *Service) TokenRestrictions(ctx context.Context, h TokenHolder, user *User) (*Restrictions, error) {
	raw, ok := s.store.(RawStore)
	if !ok {
		return nil, nil
	}
	acct, err := s.Account(ctx, h.AccountID)
	if err != nil {
		return nil, err
	}
	if acct.SuperDuperAdmin {
		return nil, nil
	}
	byMethod := func(doc json.RawMessage) json.RawMessage {
		var d map[string]json.RawMessage
		if json.Unmarshal(doc, &d) != nil {
			return nil
		}
		if r := present(d[h.Method]); r != nil {
			return r
		}
		return present(d[catchAll])
	}
	var restrictions json.RawMessage
	accountDoc, err := readRaw(ctx, raw, AccountDB(h.AccountID), restrictionsDoc)
	if err != nil {
		return nil, err
	}
	if accountDoc != nil {
		var d struct {
			Restrictions json.RawMessage `json:"restrictions"`
		}
		_ = json.Unmarshal(accountDoc, &d)
		restrictions = byMethod(d.Restrictions)
	}
	defaultLevel := "admin"
	config, err := readRaw(ctx, raw, restrictionsConfigDB, restrictionsConfigDoc)
	if err != nil {
		return nil, err
	}
	if config != nil {
		var d struct {
			Default json.RawMessage `json:"default"`
		}
		_ = json.Unmarshal(config, &d)
		if restrictions == nil {
			restrictions = byMethod(d.Default)
		}
		var level struct {
			Level string `json:"default_priv_level"`
		}
		if json.Unmarshal(d.Default, &level) == nil && level.Level != "" {
			defaultLevel = level.Level
		}
	}
	if restrictions == nil {
		return nil, nil
	}
	level := defaultLevel
	if user != nil {
		level = user.Public.String("priv_level")
	}
	var levels map[string]json.RawMessage
	if json.Unmarshal(restrictions, &levels) != nil {
		return nil, nil
	}
	if r, ok := levels[level]; ok {
		return ParseRestrictions(r), nil
	}
	return ParseRestrictions(levels[catchAll]), nil
}

// readRaw is a document's body, nil when absent.
func readRaw(ctx context.Context, raw RawStore, db, id string) (json.RawMessage, error) {
	d, err := raw.RawGet(ctx, db, id)
	if IsKind(err, KindNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return d.Body, nil
}

// present is raw unless it is absent or null.
func present(raw json.RawMessage) json.RawMessage {
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil
	}
	return raw
}

// CheckTokenRestrictions refuses (403, as crossbar words it) a call that
// the token's restrictions do not allow; a token without restrictions
// may make any call.
func (s *Service) CheckTokenRestrictions(ctx context.Context, restrictions *Restrictions, h TokenHolder, call TokenCall) error {
	if restrictions == nil {
		return nil
	}
	allowed := []string{catchAll}
	switch {
	case call.Account == "":
	case call.Account == h.AccountID:
		allowed = append(allowed, h.AccountID, "{AUTH_ACCOUNT_ID}")
	default:
		allowed = append(allowed, call.Account)
		if a, err := s.Account(ctx, call.Account); err == nil && a.HasAncestor(h.AccountID) {
			allowed = append(allowed, "{DESCENDANT_ACCOUNT_ID}")
		} else if err != nil && !IsKind(err, KindNotFound) {
			return err
		}
	}
	if RestrictionsAllow(restrictions, call, allowed) {
		return nil
	}
	return &Error{Kind: KindForbidden, Message: "forbidden",
		Data: map[string]any{"cause": "access denied by token restrictions", "message": "forbidden"}}
}

// RestrictionsAllow matches a call against restrictions as crossbar does:
// the endpoint's entries (else "_"'s); the first entry whose
// allowed_accounts (absent or ["_"]: any) meets allowedAccounts; the
// first of its rules, in the order written, whose path pattern ("*" one
// segment, "#" any number) matches the call's parameters; and that rule's
// verbs, which must hold the call's verb or "_". Anything unmatched is
// refused.
func RestrictionsAllow(restrictions *Restrictions, call TokenCall, allowedAccounts []string) bool {
	if restrictions == nil {
		return true
	}
	endpoint := call.Endpoint
	entries, ok := restrictions.byEndpoint[endpoint]
	if !ok && !restrictions.malformed[endpoint] {
		endpoint = catchAll
		entries = restrictions.byEndpoint[catchAll]
	}
	if restrictions.malformed[endpoint] {
		return false
	}
	for _, e := range entries {
		if !accountsMeet(e.accounts, allowedAccounts) {
			continue
		}
		for _, r := range e.rules {
			if bindingMatches(r.pattern, call.Params) {
				return slices.Contains(r.verbs, catchAll) || slices.Contains(r.verbs, call.Verb)
			}
		}
		return false
	}
	return false
}

func accountsMeet(listed, allowed []string) bool {
	if listed == nil || len(listed) == 1 && listed[0] == catchAll {
		return true
	}
	for _, a := range listed {
		if slices.Contains(allowed, a) {
			return true
		}
	}
	return false
}

// splitRule splits a rule's path pattern as crossbar does (empty segments
// dropped at the end).
func splitRule(rule string) []string {
	parts := strings.Split(rule, "/")
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// bindingMatches is AMQP-style binding: "*" is one segment, "#" zero or
// more, anything else itself.
func bindingMatches(pattern, segs []string) bool {
	if len(pattern) == 0 {
		return len(segs) == 0
	}
	switch pattern[0] {
	case "#":
		for i := 0; i <= len(segs); i++ {
			if bindingMatches(pattern[1:], segs[i:]) {
				return true
			}
		}
		return false
	case "*":
		return len(segs) > 0 && bindingMatches(pattern[1:], segs[1:])
	default:
		return len(segs) > 0 && segs[0] == pattern[0] && bindingMatches(pattern[1:], segs[1:])
	}
}

// orderedMembers is an object's members in the order written (a rule's
// order decides which matches first).
func orderedMembers(raw json.RawMessage) ([]string, map[string]json.RawMessage) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, nil
	}
	var keys []string
	members := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, nil
		}
		k, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil
		}
		if _, dup := members[k]; !dup {
			keys = append(keys, k)
		}
		members[k] = v
	}
	return keys, members
}
