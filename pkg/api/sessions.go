package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/tokens"
)

// userRecheck is how long a user found active stays trusted before a
// token of theirs reads the user again: deleting or disabling a user ends
// its sessions within it, without a store round trip on every call.
const userRecheck = 30 * time.Second

// sessions remembers which users' tokens were found to speak for an
// active user, and when.
type sessions struct {
	now func() time.Time

	mu      sync.Mutex
	checked map[tokens.Identity]time.Time
}

// sessionsMax bounds the remembered users; when full, all are forgotten
// (the next calls read their users again).
const sessionsMax = 10000

func newSessions(now func() time.Time) *sessions {
	return &sessions{now: now, checked: map[tokens.Identity]time.Time{}}
}

// userActive refuses a user's token once the user is gone or disabled.
func (s *sessions) userActive(ctx context.Context, svc *porting.Service, id tokens.Identity) error {
	now := s.now()
	s.mu.Lock()
	at, ok := s.checked[id]
	s.mu.Unlock()
	if ok && now.Sub(at) < userRecheck {
		return nil
	}
	if _, err := svc.ActiveUser(ctx, id.AccountID, id.OwnerID); err != nil {
		return err
	}
	s.mu.Lock()
	if len(s.checked) >= sessionsMax {
		clear(s.checked)
	}
	s.checked[id] = now
	s.mu.Unlock()
	return nil
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
