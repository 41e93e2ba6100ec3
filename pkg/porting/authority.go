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

// actsAsAuthority reports whether actor may do the port authority's work on
// requests of account id: it is that authority, or the master.
func (s *Service) actsAsAuthority(ctx context.Context, actor *Account, id string) (bool, *Account, error) {
	auth, err := s.PortAuthority(ctx, id)
	if err != nil {
		return false, nil, err
	}
	return actor.SuperDuperAdmin || actor.ID == auth.ID, auth, nil
}
