package porting

import (
	"context"
	"encoding/json"
)

// LOAProfile is an account's Letter of Authorization branding, kept in the
// account document as `loa_profile` so that operators brand letters without
// code. The nearest account up the tree that has one supplies it.
type LOAProfile struct {
	Name         string   `json:"name"`
	AddressLines []string `json:"address_lines"`
	Email        string   `json:"email"`
	Phone        string   `json:"phone"`
}

// LOAData is what a Letter of Authorization is made from.
type LOAData struct {
	Request   *Request
	Account   *Account    // the owning account
	Authority *Account    // the port authority: the gaining provider
	Profile   *LOAProfile // nil when no account up the tree has one
}

// LOA gathers the data of request id's Letter of Authorization, with the
// same tenancy as reading the request.
func (s *Service) LOA(ctx context.Context, actor *Account, accountID, id string) (*LOAData, error) {
	r, err := s.GetRequest(ctx, actor, accountID, id)
	if err != nil {
		return nil, err
	}
	owner, err := s.Account(ctx, r.AccountID)
	if err != nil {
		return nil, err
	}
	auth, err := s.PortAuthority(ctx, r.AccountID)
	if err != nil {
		return nil, err
	}
	d := &LOAData{Request: r, Account: owner, Authority: auth}
	for i := len(owner.Tree); i >= 0; i-- {
		a := owner
		if i < len(owner.Tree) {
			if a, err = s.Account(ctx, owner.Tree[i]); err != nil {
				continue
			}
		}
		if raw, ok := a.Other["loa_profile"]; ok {
			var p LOAProfile
			if json.Unmarshal(raw, &p) == nil && p.Name != "" {
				d.Profile = &p
				break
			}
		}
	}
	return d, nil
}
