package porting

import (
	"context"
	"encoding/json"
)

// PortAuthority returns the account that works the port requests of account
// id, walking from the account up to the root, the nearest setting first:
// at each account, the port authority its whitelabel document names (Kazoo
// 4.3's port.authority; the account's own naming itself is skipped, as
// Kazoo skips it), then, for a strict ancestor, portreqd's port_authority
// flag (so an authority's own requests go to the authority above it). At
// one account Kazoo's whitelabel setting wins over the flag. None: the
// master account. A named account that does not exist is passed over.
func (s *Service) PortAuthority(ctx context.Context, id string) (*Account, error) {
	a, err := s.Account(ctx, id)
	if err != nil {
		return nil, err
	}
	for i := len(a.Tree); i >= 0; i-- {
		at := a
		if i < len(a.Tree) {
			if at, err = s.Account(ctx, a.Tree[i]); IsKind(err, KindNotFound) {
				continue
			} else if err != nil {
				return nil, err
			}
		}
		named, err := s.store.WhitelabelPortAuthority(ctx, at.ID)
		if err != nil {
			return nil, err
		}
		if named != "" && named != a.ID {
			auth, err := s.Account(ctx, named)
			if err == nil {
				return auth, nil
			}
			if !IsKind(err, KindNotFound) {
				return nil, err
			}
		}
		if at != a && at.PortAuthority {
			return at, nil
		}
	}
	return s.master(ctx)
}

// master returns the master account (cached like any account).
func (s *Service) master(ctx context.Context) (*Account, error) {
	if id := s.masterID.Load(); id != nil {
		return s.Account(ctx, *id)
	}
	m, err := s.store.MasterAccount(ctx)
	if err != nil {
		return nil, err
	}
	s.masterID.Store(&m.ID)
	return m, nil
}

// RequestAuthority is the port authority of request r: the one its
// document names (Kazoo 4.3's pvt_port_authority, written when the request
// was created, by Kazoo or portreqd) while that account exists, as Kazoo's
// find_port_authority reads it; otherwise the account's (PortAuthority).
// So a request keeps the authority it was submitted to when port
// authorities are set up differently later, on either side.
func (s *Service) RequestAuthority(ctx context.Context, r *Request) (*Account, error) {
	return s.authorityFor(ctx, r.AccountID, r.DocAuthority())
}

// authorityFor is RequestAuthority of a request of account accountID whose
// document names docAuthority (maybe "").
func (s *Service) authorityFor(ctx context.Context, accountID, docAuthority string) (*Account, error) {
	if docAuthority != "" {
		a, err := s.Account(ctx, docAuthority)
		if err == nil {
			return a, nil
		}
		if !IsKind(err, KindNotFound) {
			return nil, err
		}
	}
	return s.accountAuthority(ctx, accountID)
}

// accountAuthority is PortAuthority as the account's _read_only block
// (ReadOnly, which the account cache keeps) names it: the walk reads the
// whitelabel documents of every account on the way up, which writes
// should not pay each time.
func (s *Service) accountAuthority(ctx context.Context, accountID string) (*Account, error) {
	ro, err := s.ReadOnly(ctx, accountID)
	if err != nil {
		return nil, err
	}
	var block struct {
		Authority string `json:"port_authority"`
	}
	if json.Unmarshal(ro, &block) == nil && block.Authority != "" {
		a, err := s.Account(ctx, block.Authority)
		if !IsKind(err, KindNotFound) {
			return a, err
		}
	}
	return s.PortAuthority(ctx, accountID)
}

// actsAsAuthority reports whether actor may do the port authority's work on
// request r: it is r's authority (RequestAuthority), or a super-duper
// admin.
func (s *Service) actsAsAuthority(ctx context.Context, actor *Account, r *Request) (bool, *Account, error) {
	auth, err := s.RequestAuthority(ctx, r)
	if err != nil {
		return false, nil, err
	}
	return actor.SuperDuperAdmin || actor.ID == auth.ID, auth, nil
}
