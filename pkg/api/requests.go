package api

import (
	"net/http"
	"strconv"

	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/rows"
)

// requestReply wraps one port request in the envelope, revision = _rev.
func (a *API) requestReply(c *call, r *porting.Request, status int) (*reply, error) {
	v, err := a.rows.View(c.r.Context(), c.actor, r)
	if err != nil {
		return nil, err
	}
	return &reply{status: status, data: v, revision: r.Rev}, nil
}

func (a *API) createRequest(c *call) (*reply, error) {
	acct, err := c.pathID("account_id")
	if err != nil {
		return nil, err
	}
	data, err := c.data()
	if err != nil {
		return nil, err
	}
	if _, keyed := c.r.Header[idempotencyKey]; keyed {
		r, replayed, err := a.svc.CreateRequestOnce(c.r.Context(), c.actor, acct, c.r.Header.Get(idempotencyKey), data)
		if err != nil {
			return nil, err
		}
		if replayed {
			c.w.Header().Set("Idempotent-Replayed", "true")
		}
		return a.requestReply(c, r, http.StatusCreated)
	}
	r, err := a.svc.CreateRequest(c.r.Context(), c.actor, acct, data)
	if err != nil {
		return nil, err
	}
	return a.requestReply(c, r, http.StatusCreated)
}

// idempotencyKey names the header under which a client may send a
// creation again without making a second request (IETF's
// Idempotency-Key); the answer to a repeat says Idempotent-Replayed.
const idempotencyKey = "Idempotency-Key"

func (a *API) getRequest(c *call) (*reply, error) {
	acct, id, err := c.requestIDs()
	if err != nil {
		return nil, err
	}
	row, rev, err := a.rows.Get(c.r.Context(), c.actor, acct, id)
	if err != nil {
		return nil, err
	}
	return &reply{data: row, revision: rev}, nil
}

func (a *API) updateRequest(c *call) (*reply, error) {
	acct, id, err := c.requestIDs()
	if err != nil {
		return nil, err
	}
	body, err := c.readBody()
	if err != nil {
		return nil, err
	}
	c.bodyRevision(body)
	data, err := c.data()
	if err != nil {
		return nil, err
	}
	r, err := a.svc.UpdateRequest(c.r.Context(), c.actor, acct, id, data)
	if err != nil {
		return nil, err
	}
	return a.requestReply(c, r, 0)
}

func (a *API) deleteRequest(c *call) (*reply, error) {
	acct, id, err := c.requestIDs()
	if err != nil {
		return nil, err
	}
	body, err := c.readBody() // Monster UI sends a JSON body
	if err != nil {
		return nil, err
	}
	c.bodyRevision(body)
	r, err := a.svc.DeleteRequest(c.r.Context(), c.actor, acct, id)
	if err != nil {
		return nil, err
	}
	return a.requestReply(c, r, 0)
}

func (a *API) transition(c *call) (*reply, error) {
	acct, id, err := c.requestIDs()
	if err != nil {
		return nil, err
	}
	to, _ := porting.ParseState(vars(c.r)["state"])
	body, err := c.readBody()
	if err != nil {
		return nil, err
	}
	c.bodyRevision(body)
	data, err := c.data()
	if err != nil {
		return nil, err
	}
	// accept_charges may come in the query string, in data, or beside data
	// (Monster UI's retry after a 402).
	accept := c.r.URL.Query().Get("accept_charges") == "true" || data.Bool("accept_charges") || body.Bool("accept_charges")
	r, err := a.svc.Transition(c.r.Context(), c.actor, acct, id, to, porting.TransitionInput{Data: data, AcceptCharges: accept})
	if err != nil {
		return nil, err
	}
	return a.requestReply(c, r, 0)
}

// requestIDs returns the account and port request ids of the path.
func (c *call) requestIDs() (string, string, error) {
	acct, err := c.pathID("account_id")
	if err != nil {
		return "", "", err
	}
	id, err := c.pathID("request_id")
	if err != nil {
		return "", "", err
	}
	return acct, id, nil
}

// listOptions reads a listing's query parameters.
func (c *call) listOptions(descendants bool) (porting.ListOptions, error) {
	q := c.r.URL.Query()
	o := porting.ListOptions{Descendants: descendants, StartKey: q.Get("start_key"), NoPaginate: q.Get("paginate") == "false"}
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"modified_from", &o.From}, {"modified_to", &o.To}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return o, porting.ValidationError(p.name, "type", "must be a Gregorian timestamp in seconds", map[string]any{"value": v})
			}
			*p.dst = n
		}
	}
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return o, porting.ValidationError("page_size", "range", "page_size must be an integer from 1 to 1000", map[string]any{"value": v})
		}
		o.PageSize = n
	}
	return o, nil
}

func listingReply(l *rows.Listing) *reply {
	p := &paging{pageSize: l.PageSize, startKey: l.StartKey, nextStartKey: l.NextStartKey}
	if l.Flat != nil {
		return &reply{data: l.Flat, paging: p}
	}
	return &reply{data: l.Groups, paging: p} // *rows.Groups: streamed
}

func (a *API) listAll(c *call) (*reply, error)            { return a.list(c, false) }
func (a *API) listDescendantsAll(c *call) (*reply, error) { return a.list(c, true) }

func (a *API) list(c *call, descendants bool) (*reply, error) {
	acct, err := c.pathID("account_id")
	if err != nil {
		return nil, err
	}
	o, err := c.listOptions(descendants)
	if err != nil {
		return nil, err
	}
	var l *rows.Listing
	q := c.r.URL.Query()
	if n := q.Get("by_number"); n != "" {
		l, err = a.rows.ByNumber(c.r.Context(), c.actor, acct, n, descendants)
	} else if st, ok := porting.ParseState(vars(c.r)["state"]); ok {
		l, err = a.rows.ListState(c.r.Context(), c.actor, acct, st, o)
	} else if types := q.Get("by_types"); types == "last_submitted" && !descendants {
		return a.lastSubmitted(c)
	} else if types != "" {
		var states []porting.State
		if states, err = porting.ParseTypes(types); err != nil {
			return nil, err
		}
		l, err = a.rows.ListTypes(c.r.Context(), c.actor, acct, states, o)
	} else {
		l, err = a.rows.ListAll(c.r.Context(), c.actor, acct, o)
	}
	if err != nil {
		return nil, err
	}
	return listingReply(l), nil
}

func (a *API) addComments(c *call) (*reply, error) {
	acct, id, err := c.requestIDs()
	if err != nil {
		return nil, err
	}
	data, err := c.data()
	if err != nil {
		return nil, err
	}
	r, err := a.svc.AddComments(c.r.Context(), c.actor, acct, id, data)
	if err != nil {
		return nil, err
	}
	return commentsReply(r), nil
}

func (a *API) listComments(c *call) (*reply, error) {
	acct, id, err := c.requestIDs()
	if err != nil {
		return nil, err
	}
	list, err := a.svc.Comments(c.r.Context(), c.actor, acct, id)
	if err != nil {
		return nil, err
	}
	return &reply{data: map[string]any{"comments": list}}, nil
}

func (a *API) deleteComment(c *call) (*reply, error) {
	acct, id, err := c.requestIDs()
	if err != nil {
		return nil, err
	}
	r, err := a.svc.DeleteComment(c.r.Context(), c.actor, acct, id, vars(c.r)["index"])
	if err != nil {
		return nil, err
	}
	return commentsReply(r), nil
}

func commentsReply(r *porting.Request) *reply {
	comments := r.Public["comments"]
	if comments == nil {
		comments = []byte("[]")
	}
	return &reply{data: map[string]any{"comments": comments}, revision: r.Rev}
}

func (a *API) phoneNumbers(c *call) (*reply, error) {
	acct, err := c.pathID("account_id")
	if err != nil {
		return nil, err
	}
	nums, err := a.svc.PhoneNumbers(c.r.Context(), c.actor, acct)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for _, n := range nums {
		out[n.Number] = map[string]any{"state": n.State, "assigned_to": n.AssignedTo, "ported_in": n.PortedIn,
			"port_id": n.PortID, "created": n.Created, "updated": n.Modified, "features": []string{}}
	}
	return &reply{data: map[string]any{"numbers": out}}, nil
}

// agentQueue is GET /v2/port_requests: the caller's queue as a port
// authority (Kazoo 4.3), by_types as on every listing (default: active).
func (a *API) agentQueue(c *call) (*reply, error) {
	o, err := c.listOptions(false)
	if err != nil {
		return nil, err
	}
	var states []porting.State
	if types := c.r.URL.Query().Get("by_types"); types != "" {
		if states, err = porting.ParseTypes(types); err != nil {
			return nil, err
		}
	}
	l, err := a.rows.AgentQueue(c.r.Context(), c.actor, states, o)
	if err != nil {
		return nil, err
	}
	return listingReply(l), nil
}

// lastSubmitted is GET …/port_requests/last_submitted (Kazoo 4.3).
func (a *API) lastSubmitted(c *call) (*reply, error) {
	acct, err := c.pathID("account_id")
	if err != nil {
		return nil, err
	}
	list, err := a.svc.LastSubmitted(c.r.Context(), c.actor, acct)
	if err != nil {
		return nil, err
	}
	return &reply{data: list}, nil
}

// timeline is GET …/port_requests/{id}/timeline (Kazoo 4.3).
func (a *API) timeline(c *call) (*reply, error) {
	acct, id, err := c.requestIDs()
	if err != nil {
		return nil, err
	}
	list, err := a.svc.Timeline(c.r.Context(), c.actor, acct, id)
	if err != nil {
		return nil, err
	}
	return &reply{data: list}, nil
}
