package porting

// TrialExpires is the end of the account's trial (Kazoo's
// pvt_trial_expires, Gregorian seconds); 0: none.
func (a *Account) TrialExpires() int64 { return int64(a.Other.Number("pvt_trial_expires")) }

// NotExpired refuses an account whose trial has ended, as crossbar does
// at login and on every token (kzd_accounts:is_expired): Kazoo's 423
// "locked" naming the expiry. Kazoo also disables such an account; that
// write is left to Kazoo.
func (s *Service) NotExpired(a *Account) error {
	exp := a.TrialExpires()
	if exp <= 0 || s.gregorianNow() <= exp {
		return nil
	}
	return locked("account", "expired", "account expired", map[string]any{"cause": exp})
}
