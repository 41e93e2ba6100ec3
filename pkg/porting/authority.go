package porting

import "context"

// PortAuthority returns the account that works the port requests of account
// id: its nearest strict ancestor flagged port_authority (so an authority's
// own requests go to the authority above it), else the master account.
func (s *Service) PortAuthority(ctx context.Context, id string) (*Account, error) {
	a, err := s.Account(ctx, id)
	if err != nil {
		return nil, err
	}
	for i := len(a.Tree) - 1; i >= 0; i-- {
		anc, err := s.Account(ctx, a.Tree[i])
		if IsKind(err, KindNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if anc.PortAuthority {
			return anc, nil
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
	if id := r.DocAuthority(); id != "" {
		a, err := s.Account(ctx, id)
		if err == nil {
			return a, nil
		}
		if !IsKind(err, KindNotFound) {
			return nil, err
		}
	}
	return s.PortAuthority(ctx, r.AccountID)
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
