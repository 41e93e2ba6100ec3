package porting

import (
	"context"
	"encoding/json"
	"io"
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
	Logo      []byte      // the profile account's loa_logo attachment, if any
}

// LogoName is the account attachment holding the LOA logo.
const LogoName = "loa_logo"

// MaxLogoBytes bounds an LOA logo: it is read whole to draw it.
const MaxLogoBytes = 1 << 20

// SetLOALogo stores a PNG or JPEG logo on account accountID (the account
// itself or an ancestor may), used on the letters its profile brands.
func (s *Service) SetLOALogo(ctx context.Context, actor *Account, accountID string, u Upload) (*Account, error) {
	if u.ContentType != "image/png" && u.ContentType != "image/jpeg" {
		return nil, &Error{Kind: KindUnsupportedMedia, Message: "unsupported media type",
			Data: map[string]any{"message": "an LOA logo is image/png or image/jpeg, not " + u.ContentType}}
	}
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return nil, err
	}
	var out *Account
	err := s.retryConflict(ctx, func() error {
		a, err := s.store.GetAccount(ctx, accountID)
		if err != nil {
			return err
		}
		body, err := u.Open()
		if err != nil {
			return err
		}
		defer body.Close()
		if _, err := s.store.PutAccountAttachment(ctx, a.ID, a.Rev, LogoName, u.ContentType, body); err != nil {
			return err
		}
		out, err = s.store.GetAccount(ctx, accountID)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.accounts.Written(out)
	return out, nil
}

// hasAttachment reports whether an account document carries attachment name.
func hasAttachment(a *Account, name string) bool {
	var atts map[string]json.RawMessage
	_ = json.Unmarshal(a.Other["_attachments"], &atts)
	_, ok := atts[name]
	return ok
}

// LOA gathers the data of request id's Letter of Authorization, with the
// same tenancy as reading the request.
func (s *Service) LOA(ctx context.Context, actor *Account, accountID, id string) (*LOAData, error) {
	r, err := s.GetRequest(ctx, actor, accountID, id)
	if err != nil {
		return nil, err
	}
	return s.LOAOf(ctx, r)
}

// LOAOf is what the letter of request r shows, for portreqd itself (the
// submission mail attaches it): no caller to authorize.
func (s *Service) LOAOf(ctx context.Context, r *Request) (*LOAData, error) {
	owner, err := s.Account(ctx, r.AccountID)
	if err != nil {
		return nil, err
	}
	auth, err := s.RequestAuthority(ctx, r)
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
				if hasAttachment(a, LogoName) {
					d.Logo = s.readLogo(ctx, a.ID)
				}
				break
			}
		}
	}
	return d, nil
}

// readLogo reads an account's logo, bounded; a logo that cannot be read is
// left off the letter rather than failing it.
func (s *Service) readLogo(ctx context.Context, accountID string) []byte {
	att, err := s.store.GetAccountAttachment(ctx, accountID, LogoName)
	if err != nil {
		return nil
	}
	defer att.Body.Close()
	b, err := io.ReadAll(io.LimitReader(att.Body, MaxLogoBytes+1))
	if err != nil || len(b) > MaxLogoBytes {
		return nil
	}
	return b
}
