package porting

import (
	"context"
	"strings"
)

// callerUserKey keys the calling user's id in a context.
type callerUserKey struct{}

// WithUser says that the calls made with ctx come from user userID of the
// calling account (a user's token, portreqd's or Kazoo's), so that the
// transitions they write name the user as Kazoo's do. An empty userID (an
// API key's token) changes nothing.
func WithUser(ctx context.Context, userID string) context.Context {
	if userID == "" {
		return ctx
	}
	return context.WithValue(ctx, callerUserKey{}, userID)
}

// CallerUser is the user WithUser put in ctx, "" for none.
func CallerUser(ctx context.Context) string {
	id, _ := ctx.Value(callerUserKey{}).(string)
	return id
}

// transitionUser is the authorization.user of a transition actor's call
// writes: the calling user's names, read as Kazoo's transition_metadata
// reads them; nil for an API key's call. A user that cannot be read is
// named by id alone, as Kazoo does: the transition matters more than the
// name.
func (s *Service) transitionUser(ctx context.Context, actor *Account) *TransitionUser {
	id := CallerUser(ctx)
	if id == "" || actor == nil {
		return nil
	}
	out := &TransitionUser{ID: id}
	us, err := s.userStore()
	if err != nil {
		return out
	}
	u, err := us.GetUser(ctx, actor.ID, id)
	if err != nil {
		return out
	}
	out.FirstName = strings.TrimSpace(u.Public.String("first_name"))
	out.LastName = strings.TrimSpace(u.Public.String("last_name"))
	out.FullName = fullName(out.FirstName, out.LastName, u)
	return out
}

// fullName is Kazoo's kzd_users:full_name with the username, else the
// e-mail address, as the default.
func fullName(first, last string, u *User) string {
	switch {
	case first != "" && last != "":
		return first + " " + last
	case first != "":
		return first
	case last != "":
		return last
	}
	if name := u.Public.String("username"); name != "" {
		return name
	}
	return u.Public.String("email")
}

// ActiveUser is user userID of accountID while it may still act: a token
// issued at a user's login speaks for the user only while the user exists
// and is enabled (Kazoo's tokens die with the user too). Refused is
// KindUnauthorized; a store that keeps no users refuses nothing (nil, nil).
func (s *Service) ActiveUser(ctx context.Context, accountID, userID string) (*User, error) {
	us, err := s.userStore()
	if err != nil {
		return nil, nil
	}
	u, err := us.GetUser(ctx, accountID, userID)
	if IsKind(err, KindNotFound) || (err == nil && !u.Enabled()) {
		return nil, E(KindUnauthorized, "unauthorized")
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}
