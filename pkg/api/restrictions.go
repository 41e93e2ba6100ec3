package api

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/tokens"
)

// restrictionsRecheck is how long the token restrictions found for a
// holder are used before they are read again (Kazoo caches the documents
// too): an operator's edit applies within it, and a call costs no store
// round trip for them.
const restrictionsRecheck = 30 * time.Second

// restrictions remembers the token restrictions of each holder.
type restrictions struct {
	now func() time.Time

	mu   sync.Mutex
	read map[porting.TokenHolder]heldRestrictions
}

type heldRestrictions struct {
	r  *porting.Restrictions // nil: none
	at time.Time
}

func newRestrictions(now func() time.Time) *restrictions {
	return &restrictions{now: now, read: map[porting.TokenHolder]heldRestrictions{}}
}

// holder is who a token speaks for as restrictions are keyed.
func holder(id tokens.Identity) porting.TokenHolder {
	return porting.TokenHolder{Method: id.Method, AccountID: id.AccountID, OwnerID: id.OwnerID}
}

// check refuses r when the restrictions of its token do not allow it.
func (rs *restrictions) check(ctx context.Context, svc *porting.Service, id tokens.Identity, r *http.Request) error {
	h := holder(id)
	now := rs.now()
	rs.mu.Lock()
	held, ok := rs.read[h]
	rs.mu.Unlock()
	if !ok || now.Sub(held.at) >= restrictionsRecheck {
		r, err := svc.TokenRestrictions(ctx, h)
		if err != nil {
			return err
		}
		held = heldRestrictions{r: r, at: now}
		rs.mu.Lock()
		if len(rs.read) >= sessionsMax {
			clear(rs.read)
		}
		rs.read[h] = held
		rs.mu.Unlock()
	}
	return svc.CheckTokenRestrictions(ctx, held.r, h, tokenCall(r))
}

// resources are the path segments crossbar would take for its modules'
// names; the segments after one are its parameters.
var resources = map[string]bool{
	"accounts": true, "port_requests": true, "users": true, "phone_numbers": true,
	"port_webhooks": true, "port_notifications": true, "port_deliveries": true,
}

// tokenCall is r as crossbar matches restrictions against it: the last
// resource of the path and the segments after it, the account the path
// names, the method.
func tokenCall(r *http.Request) porting.TokenCall {
	call := porting.TokenCall{Verb: r.Method}
	segs := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/v2"), "/"), "/")
	for i, s := range segs {
		if !resources[s] {
			if call.Endpoint != "" {
				call.Params = append(call.Params, s)
			}
			continue
		}
		if s == "accounts" && i+1 < len(segs) {
			call.Account = segs[i+1]
		}
		call.Endpoint, call.Params = s, []string{}
	}
	return call
}
