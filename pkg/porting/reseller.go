package porting

import "context"

// IsReseller tells whether Monster UI should treat the account as a
// reseller (Kazoo's is_reseller, which shows the Account, Agent and
// Descendants tabs of the port listing): the master and other super-duper
// admins, port authorities (the reseller's role in porting), and accounts
// Kazoo marks so (pvt_reseller, set by Kazoo's reseller promotion).
func (a *Account) IsReseller() bool {
	return a.SuperDuperAdmin || a.PortAuthority || a.Other.Bool("pvt_reseller")
}

// ResellerID is the reseller above account a (Kazoo's reseller_id): the
// nearest strict ancestor that is a reseller, else the root of its tree;
// "" for a root.
func (s *Service) ResellerID(ctx context.Context, a *Account) (string, error) {
	for i := len(a.Tree) - 1; i >= 0; i-- {
		anc, err := s.Account(ctx, a.Tree[i])
		if IsKind(err, KindNotFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		if anc.IsReseller() {
			return anc.ID, nil
		}
	}
	if len(a.Tree) > 0 {
		return a.Tree[0], nil
	}
	return "", nil
}

// KazooAccountView is the account as Kazoo's GET /v2/accounts/{A}
// answers it: the public members plus what Kazoo's crossbar derives
// (is_reseller, reseller_id, superduper_admin, enabled), which Monster UI
// reads to choose what it shows.
func (s *Service) KazooAccountView(ctx context.Context, a *Account) (Fields, error) {
	out := a.Public()
	reseller, err := s.ResellerID(ctx, a)
	if err != nil {
		return nil, err
	}
	out.Set("is_reseller", a.IsReseller())
	if reseller != "" {
		out.Set("reseller_id", reseller)
	}
	out.Set("superduper_admin", a.SuperDuperAdmin)
	enabled := true
	if raw, ok := a.Other["pvt_enabled"]; ok && string(raw) == "false" {
		enabled = false
	}
	out.Set("enabled", enabled)
	return out, nil
}
