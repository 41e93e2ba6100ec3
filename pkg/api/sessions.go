package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/tokens"
)

// sessionRecheck is how long what a token's holder may do, once read,
// stays trusted before the next call reads it again: deleting or
// disabling a user ends its sessions within it, and an edit of Kazoo's
// token restrictions applies within it (Kazoo caches those documents
// too), without store round trips on every call.
const sessionRecheck = 30 * time.Second

// session is what a token's holder may do, as read at: its user (if it
// has one) was active, and these restrictions apply (nil: none).
type session struct {
	restrictions *porting.Restrictions
	at           time.Time
}

// sessions remembers, per token holder, what it may do.
type sessions struct {
	now func() time.Time

	mu   sync.Mutex
	held map[tokens.Identity]session
}

// sessionsMax bounds the remembered holders; when full, all are forgotten
// (the next calls read theirs again).
const sessionsMax = 10000

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, held: map[tokens.Identity]session{}}
}

// check refuses r once the token's user is gone or disabled, or when the
// token's restrictions do not allow r. The user is read once for both.
func (s *sessions) check(ctx context.Context, svc *porting.Service, id tokens.Identity, r *http.Request) error {
	h := porting.TokenHolder{Method: id.Method, AccountID: id.AccountID, OwnerID: id.OwnerID}
	now := s.now()
	s.mu.Lock()
	held, ok := s.held[id]
	s.mu.Unlock()
	if !ok || now.Sub(held.at) >= sessionRecheck {
		var user *porting.User
		if id.OwnerID != "" {
			u, err := svc.ActiveUser(ctx, id.AccountID, id.OwnerID)
			if err != nil {
				return err
			}
			user = u
		}
		rs, err := svc.TokenRestrictions(ctx, h, user)
		if err != nil {
			return err
		}
		held = session{restrictions: rs, at: now}
		s.mu.Lock()
		if len(s.held) >= sessionsMax {
			clear(s.held)
		}
		s.held[id] = held
		s.mu.Unlock()
	}
	if held.restrictions == nil {
		return nil // what nearly every deployment has: no call to match
	}
	return svc.CheckTokenRestrictions(ctx, held.restrictions, h, tokenCall(r))
}

// tokenInfo is Kazoo's auth/tokeninfo: who a token speaks for, in a
// login's answer, so that Monster UI resumes a session from its cookie
// (POST, {"data":{"token":…}}) or a link carrying ?t= (GET ?token=). The
// token is the credential: no X-Auth-Token is needed, and a token that
// does not verify is 401 as on every route.
func (a *API) tokenInfo(c *call) (*reply, error) {
	var token string
	if c.r.Method == http.MethodGet {
		token = c.r.URL.Query().Get("token")
		if token == "" {
			return nil, porting.E(porting.KindNotFound, "missing token in params")
		}
	} else {
		data, err := c.data()
		if err != nil {
			return nil, err
		}
		if token = data.String("token"); token == "" {
			return nil, porting.E(porting.KindNotFound, "missing token in request")
		}
	}
	ctx := c.r.Context()
	id, acct, err := a.identify(ctx, token)
	if err != nil {
		return nil, err
	}
	var user *porting.User
	if id.OwnerID != "" {
		// Read fresh, not from the routes' recheck cache: the answer
		// carries the user's own settings (language).
		if user, err = a.svc.ActiveUser(ctx, acct.ID, id.OwnerID); err != nil {
			return nil, err
		}
	}
	if info := infoFrom(c.r); info != nil {
		info.account = acct.ID
	}
	answer, err := a.authAnswer(ctx, acct, user)
	if err != nil {
		return nil, err
	}
	return &reply{status: http.StatusOK, authTok: token, data: answer}, nil
}
