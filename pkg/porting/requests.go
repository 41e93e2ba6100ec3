package porting

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/portreqd/portreqd/pkg/rawjson"
)

// requestFor loads request id as seen through account accountID: deleted
// requests, other document types and requests owned outside accountID's
// subtree are all "bad identifier", so that tenants never learn of each
// other's requests.
func (s *Service) requestFor(ctx context.Context, accountID, id string) (*Request, error) {
	if !IsID(id) {
		return nil, NotFound(id)
	}
	r, err := s.store.GetRequest(ctx, id)
	if err != nil {
		return nil, err
	}
	if !r.Readable(accountID) {
		return nil, NotFound(id)
	}
	if err := checkRevision(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// AuthorizeRead checks, before request id is read through account
// accountID, that actor may act on accountID and that id can name a
// request (anything else is "bad identifier"). After the read, the request
// is shown only when Readable through accountID.
func (s *Service) AuthorizeRead(ctx context.Context, actor *Account, accountID, id string) error {
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return err
	}
	if !IsID(id) {
		return NotFound(id)
	}
	return nil
}

// ReadOnly is the _read_only block of the requests of account accountID,
// Kazoo 4.3's: the account's id and name, and its port authority's. It
// depends on the account only, so a listing asks once per account, and
// the account cache keeps it.
func (s *Service) ReadOnly(ctx context.Context, accountID string) (json.RawMessage, error) {
	if ro, ok := s.accounts.ReadOnly(accountID); ok {
		return ro, nil
	}
	built := s.now()
	ro, err := s.buildReadOnly(ctx, accountID, "")
	if err != nil {
		return nil, err
	}
	s.accounts.PutReadOnly(accountID, ro, built)
	return ro, nil
}

// ReadOnlyFor is ReadOnly for a request whose document names the port
// authority docAuthority (maybe ""): the block names the request's
// authority (RequestAuthority), which is the account's unless the
// document names another that exists.
func (s *Service) ReadOnlyFor(ctx context.Context, accountID, docAuthority string) (json.RawMessage, error) {
	ro, err := s.ReadOnly(ctx, accountID)
	if err != nil || docAuthority == "" {
		return ro, err
	}
	// The account's block names the same authority (most requests): it is
	// shared. buildReadOnly writes it with encoding/json, members sorted.
	if bytes.Contains(ro, rawjson.AppendString([]byte(`"port_authority":`), docAuthority)) {
		return ro, nil
	}
	key := accountID + "/" + docAuthority
	if ro, ok := s.accounts.ReadOnly(key); ok {
		return ro, nil
	}
	built := s.now()
	if ro, err = s.buildReadOnly(ctx, accountID, docAuthority); err != nil {
		return nil, err
	}
	s.accounts.PutReadOnly(key, ro, built)
	return ro, nil
}

func (s *Service) buildReadOnly(ctx context.Context, accountID, docAuthority string) (json.RawMessage, error) {
	ro := map[string]any{"account_id": accountID}
	if a, err := s.Account(ctx, accountID); err == nil {
		ro["account_name"] = a.Name
	} else if !IsKind(err, KindNotFound) {
		return nil, err
	}
	var (
		auth *Account
		err  error
	)
	if docAuthority != "" {
		auth, err = s.Account(ctx, docAuthority)
		if err != nil && !IsKind(err, KindNotFound) {
			return nil, err
		}
	}
	if auth == nil { // not RequestAuthority, which reads this block
		auth, err = s.PortAuthority(ctx, accountID)
	}
	if err == nil {
		ro["port_authority"] = auth.ID
		ro["port_authority_name"] = auth.Name
	} else if !IsKind(err, KindNotFound) {
		return nil, err
	}
	return json.Marshal(ro)
}

// CreateRequest stores a new unconfirmed request for account accountID.
// Drafts claim no numbers, but a number already in service or held by an
// active request is refused at once, as Kazoo does.
func (s *Service) CreateRequest(ctx context.Context, actor *Account, accountID string, data Fields) (*Request, error) {
	acct, err := s.Authorize(ctx, actor, accountID)
	if err != nil {
		return nil, err
	}
	return s.createRequest(ctx, actor, acct, data, s.newID(), nil)
}

// createRequest creates a request of acct with id. With once (an
// idempotent creation), the request keeps it under pvt_idempotency and its
// created event's id is derived from the request's, so that the copies two
// sites make of one creation carry one event.
func (s *Service) createRequest(ctx context.Context, actor, acct *Account, data Fields, id string, once map[string]string) (*Request, error) {
	in, err := validateRequest(data)
	if err != nil {
		return nil, err
	}
	if err := s.checkNumbers(ctx, id, acct.ID, in.asSent); err != nil {
		return nil, err
	}
	now := s.gregorianNow()
	r := &Request{
		ID: id, Public: in.public, State: Unconfirmed, AccountID: acct.ID,
		Tree: append([]string{}, acct.Tree...), Created: now, Modified: now,
		Private: Fields{},
	}
	// Kazoo 4.3's knm_port_request:new: the account's name and the port
	// authority the request goes to, which it keeps (RequestAuthority).
	r.Private.Set("pvt_account_name", acct.Name)
	if auth, err := s.accountAuthority(ctx, acct.ID); err == nil {
		r.Private.Set("pvt_port_authority", auth.ID)
		r.Private.Set("pvt_port_authority_name", auth.Name)
	} else if !IsKind(err, KindNotFound) {
		return nil, err
	}
	if err := s.checkLimits(r, nil); err != nil {
		return nil, err
	}
	// Kazoo 4.3's creation entry: the new state, no previous one.
	created := Transition{Timestamp: now, Type: "transition", Transition: TransitionState{New: Unconfirmed}}
	created.Authorization.Account.ID, created.Authorization.Account.Name = actor.ID, actor.Name
	created.Authorization.User = s.transitionUser(ctx, actor)
	r.Transitions = []Transition{created}
	event := s.event(EventCreated, r, actor, r.Created)
	if once != nil {
		r.Private.Set(idempotencyMember, once)
		event.ID = digest([]byte("created\x00" + r.ID))[:32]
	}
	r.addEvent(event)
	if err := s.store.CreateRequest(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// GetRequest reads request id through account accountID.
func (s *Service) GetRequest(ctx context.Context, actor *Account, accountID, id string) (*Request, error) {
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return nil, err
	}
	return s.requestFor(ctx, accountID, id)
}

// UpdateRequest replaces the public members of request id. The owner may
// edit while the request is unconfirmed or rejected; the port authority at
// any time, and then changed numbers are claimed and released as needed.
func (s *Service) UpdateRequest(ctx context.Context, actor *Account, accountID, id string, data Fields) (*Request, error) {
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return nil, err
	}
	in, err := validateRequest(data)
	if err != nil {
		return nil, err
	}
	var out *Request
	err = s.retryConflict(ctx, func() error {
		r, err := s.requestFor(ctx, accountID, id)
		if err != nil {
			return err
		}
		if err := s.guardIntent(ctx, r, ""); err != nil {
			return err
		}
		if r.State != Unconfirmed && r.State != Rejected {
			isAuth, _, err := s.actsAsAuthority(ctx, actor, r)
			if err != nil {
				return err
			}
			if !isAuth {
				return Forbidden("a " + string(r.State) + " port request may be edited by the port authority only")
			}
		}
		public, err := s.mergeComments(ctx, actor, r, in.public)
		if err != nil {
			return err
		}
		before := r.Numbers()
		next := *r
		next.Public = public
		after := next.Numbers()
		if err := s.checkLimits(&next, r); err != nil {
			return err
		}
		if r.State == Completed && !sameNumbers(before, after) {
			// Its numbers are in service, each on this request: changing
			// the list would leave one in service on no request.
			return ValidationError("numbers", "immutable", "the numbers of a completed port request cannot change", nil)
		}
		var claimed []string
		if r.State.Active() {
			if claimed, err = s.claimNumbers(ctx, &next, in.asSent); err != nil {
				return err
			}
		} else if err := s.checkNumbers(ctx, r.ID, r.AccountID, in.asSent); err != nil {
			return err
		}
		next.Modified = s.gregorianNow()
		if err := s.store.UpdateRequest(ctx, &next); err != nil {
			s.releaseNumbers(ctx, next.ID, claimed)
			return err
		}
		if r.State.Active() {
			s.releaseNumbers(ctx, r.ID, minus(before, after))
		}
		out = &next
		return nil
	})
	return out, err
}

// DeleteRequest soft-deletes request id (pvt_deleted), allowed while it is
// unconfirmed, rejected or canceled: states that hold no numbers.
func (s *Service) DeleteRequest(ctx context.Context, actor *Account, accountID, id string) (*Request, error) {
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return nil, err
	}
	var out *Request
	err := s.retryConflict(ctx, func() error {
		r, err := s.requestFor(ctx, accountID, id)
		if err != nil {
			return err
		}
		if err := s.guardIntent(ctx, r, ""); err != nil {
			return err
		}
		if r.State != Unconfirmed && r.State != Rejected && r.State != Canceled {
			return &Error{Kind: KindMethodNotAllowed, Message: "invalid method",
				Data: map[string]any{"message": "a " + string(r.State) + " port request cannot be deleted; cancel it first"}}
		}
		r.Deleted = true
		r.Modified = s.gregorianNow()
		if err := s.store.UpdateRequest(ctx, r); err != nil {
			return err
		}
		out = r
		return nil
	})
	return out, err
}

// minus returns the members of a not in b.
func minus(a, b []string) []string {
	in := make(map[string]bool, len(b))
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}

// mergePublic overlays patch members onto public ones (a PATCH body).
func mergePublic(public, patch Fields) Fields {
	out := public.Clone()
	for k, v := range clientFields(patch, requestReadOnly) {
		out[k] = v
	}
	return out
}

// sameNumbers tells whether a and b hold the same numbers.
func sameNumbers(a, b []string) bool {
	return len(minus(a, b)) == 0 && len(minus(b, a)) == 0
}
