package porting

import (
	"encoding/json"
	"strings"
)

// TrialExpires is the end of the account's trial (Kazoo's
// pvt_trial_expires, Gregorian seconds); 0: none.
func (a *Account) TrialExpires() int64 {
	raw, ok := a.Other["pvt_trial_expires"]
	if !ok {
		return 0
	}
	var n json.Number
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if dec.Decode(&n) != nil {
		return 0
	}
	if i, err := n.Int64(); err == nil {
		return i
	}
	if f, err := n.Float64(); err == nil {
		return int64(f)
	}
	return 0
}

// NotExpired refuses an account whose trial has ended, as crossbar does
// at login and on every token (kzd_accounts:is_expired): Kazoo's 423
// "locked" naming the expiry. Kazoo also disables such an account; that
// write is left to Kazoo.
func (s *Service) NotExpired(a *Account) error {
	exp := a.TrialExpires()
	if exp <= 0 || s.gregorianNow() <= exp {
		return nil
	}
	return &Error{Kind: KindLocked, Message: "locked", Data: map[string]any{"account": map[string]any{
		"expired": map[string]any{"message": "account expired", "cause": exp}}}}
}
