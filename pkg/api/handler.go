package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/tokens"
)

// call is one request as a handler sees it.
type call struct {
	w     http.ResponseWriter
	r     *http.Request
	api   *API
	actor *porting.Account // nil on unauthenticated routes

	body     porting.Fields // the decoded top-level object, once read
	bodyRead bool
}

// handler answers a request with a reply for the envelope, or an error for
// the one adapter to translate. A handler that streams its own response
// returns (nil, nil).
type handler func(c *call) (*reply, error)

// json adapts an unauthenticated handler.
func (a *API) json(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.serve(w, r, &call{w: w, r: r, api: a}, h)
	})
}

// authed adapts a handler that needs a valid X-Auth-Token.
func (a *API) authed(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, r, err := a.authenticate(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		a.serve(w, r, &call{w: w, r: r, api: a, actor: actor}, h)
	})
}

// download adapts an authenticated handler that negotiates its own content
// type (attachments, the LOA); errors still answer in the JSON envelope.
func (a *API) download(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		actor, r, err := a.authenticate(r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		rp, err := h(&call{w: w, r: withIfMatch(r), api: a, actor: actor})
		switch {
		case err != nil:
			writeError(w, r, asTimeout(r, err))
		case rp != nil:
			writeReply(w, r, rp)
		}
	})
}

func (a *API) serve(w http.ResponseWriter, r *http.Request, c *call, h handler) {
	if !acceptsJSON(r.Header.Get("Accept")) {
		writeError(w, r, &porting.Error{Kind: porting.KindNotAcceptable, Message: "not acceptable",
			Data: map[string]any{"message": "this route answers application/json only"}})
		return
	}
	c.r = withIfMatch(c.r)
	rp, err := h(c)
	switch {
	case err != nil:
		writeError(w, r, asTimeout(r, err))
	case rp != nil:
		writeReply(w, r, rp)
	}
}

// authenticate resolves the caller's token to its account: X-Auth-Token,
// else the auth_token query parameter, which Kazoo also accepts (UIs put it
// in download links, where no header can be set). The request it returns
// carries the token's user (porting.WithUser), if any.
func (a *API) authenticate(r *http.Request) (*porting.Account, *http.Request, error) {
	token := r.Header.Get("X-Auth-Token")
	if token == "" {
		token = r.URL.Query().Get("auth_token")
	}
	if token == "" {
		return nil, r, porting.E(porting.KindUnauthorized, "unauthorized")
	}
	id, actor, err := a.identify(r.Context(), token)
	if err != nil {
		return nil, r, err
	}
	if err := a.notExpired(r.Context(), id, actor); err != nil {
		return nil, r, err
	}
	if err := a.sessions.check(r.Context(), a.svc, id, r); err != nil {
		return nil, r, err
	}
	// Echo the token only once it proved valid: the envelope never reflects
	// an attacker's string.
	info := infoFrom(r)
	info.token = token
	info.account = actor.ID
	return actor, r.WithContext(porting.WithUser(r.Context(), id.OwnerID)), nil
}

// identify resolves a token, portreqd's or Kazoo's, to who it speaks for
// and the account it acts as (whether its user may still act is the
// caller's to check); any refusal is one KindUnauthorized, a store that
// does not answer is its own error (503, not 401).
func (a *API) identify(ctx context.Context, token string) (tokens.Identity, *porting.Account, error) {
	id, err := a.tokens.Verify(token)
	if err != nil && a.kazoo != nil {
		// Not portreqd's: perhaps Kazoo's, sent through a gateway.
		kid, kerr := a.kazoo.Verify(ctx, token)
		switch {
		case kerr == nil:
			id, err = kid, nil
		case !errors.Is(kerr, tokens.ErrKazooToken):
			return tokens.Identity{}, nil, kerr
		}
	}
	if err != nil {
		return tokens.Identity{}, nil, porting.E(porting.KindUnauthorized, "unauthorized")
	}
	actor, err := a.svc.Account(ctx, id.AccountID)
	if porting.IsKind(err, porting.KindNotFound) {
		return tokens.Identity{}, nil, porting.E(porting.KindUnauthorized, "unauthorized")
	}
	if err != nil {
		return tokens.Identity{}, nil, err
	}
	return id, actor, nil
}

// notExpired refuses a token whose account's trial has ended (423), as
// crossbar does on every token: the token's own account, also when it
// masquerades as a user of a descendant.
func (a *API) notExpired(ctx context.Context, id tokens.Identity, actor *porting.Account) error {
	if id.Via != "" {
		via, err := a.svc.Account(ctx, id.Via)
		if porting.IsKind(err, porting.KindNotFound) {
			return porting.E(porting.KindUnauthorized, "unauthorized")
		}
		if err != nil {
			return err
		}
		actor = via
	}
	return a.svc.NotExpired(actor)
}

// acceptsJSON reports whether an Accept header admits application/json.
// An absent header accepts anything.
func acceptsJSON(accept string) bool {
	if strings.TrimSpace(accept) == "" {
		return true
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok && strings.TrimLeft(q, "0.") == "" {
			continue // q=0 refuses
		}
		switch mt {
		case "application/json", "application/*", "*/*", "text/javascript", "application/javascript":
			return true
		}
	}
	return false
}

// readBody decodes the JSON body into a top-level object once. An empty body
// is an empty object: Monster UI and the seed's curls send body-less PATCHes
// and DELETEs.
func (c *call) readBody() (porting.Fields, error) {
	if c.bodyRead {
		return c.body, nil
	}
	c.bodyRead = true
	limit := c.api.maxJSONBytes()
	if c.actor == nil {
		// Nobody is known yet (api_auth): a key fits in far less, and a
		// stranger must not make us buffer megabytes.
		limit = maxAnonymousBody
	}
	raw, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, limit))
	if err != nil {
		if timedOut(c.r, err) {
			return nil, timeoutError()
		}
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &porting.Error{Kind: porting.KindTooLarge, Message: "file too large",
				Data: map[string]any{"message": "request body is larger than the limit"}}
		}
		return nil, porting.Wrap(porting.KindInvalidJSON, "invalid json", err)
	}
	// Bytes that are not UTF-8 are refused: raw members are stored and
	// answered as sent, and every answer, every listing others read, must
	// be UTF-8 (CouchDB refuses such documents outright).
	raw = bytes.TrimSpace(raw)
	if !utf8.Valid(raw) {
		c.body = nil
		return nil, porting.InvalidJSON("the body is not valid UTF-8")
	}
	c.body = porting.Fields{}
	if len(raw) == 0 {
		return c.body, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&c.body); err != nil {
		c.body = nil
		return nil, porting.InvalidJSON(jsonErrorMessage(err))
	}
	if dec.More() {
		c.body = nil
		return nil, porting.InvalidJSON("unexpected data after the JSON object")
	}
	if c.body == nil { // the body was `null`
		c.body = porting.Fields{}
	}
	return c.body, nil
}

// data returns the body's `data` object (empty when absent).
func (c *call) data() (porting.Fields, error) {
	body, err := c.readBody()
	if err != nil {
		return nil, err
	}
	raw, ok := body["data"]
	if !ok || string(raw) == "null" {
		return porting.Fields{}, nil
	}
	var data porting.Fields
	if err := json.Unmarshal(raw, &data); err != nil || data == nil {
		return nil, porting.InvalidJSON("data must be a JSON object")
	}
	return data, nil
}

func jsonErrorMessage(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return "malformed JSON: " + syn.Error()
	case errors.As(err, &typ):
		return "the request body must be a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: unexpected end of input"
	default:
		return "malformed JSON"
	}
}

// pathID returns the path variable name, refusing values that cannot be a
// Kazoo id with a 404 (no such document can exist, so nothing is revealed).
func (c *call) pathID(name string) (string, error) {
	id := vars(c.r)[name]
	if !porting.IsID(id) {
		return "", porting.NotFound(id)
	}
	return id, nil
}

// maxAnonymousBody bounds the body of a route that takes no token.
const maxAnonymousBody = 64 << 10

// asTimeout turns a failure of a request whose body missed its deadline
// into 408.
func asTimeout(r *http.Request, err error) error {
	if k := porting.KindOf(err); (k == porting.KindInternal || k == porting.KindUnavailable || k == porting.KindInvalidJSON) && timedOut(r, err) {
		return timeoutError()
	}
	return err
}

// timedOut reports whether err ended a body read at the request's read
// deadline.
func timedOut(r *http.Request, err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	info := infoFrom(r)
	return info != nil && !info.readBy.IsZero() && !time.Now().Before(info.readBy)
}

func timeoutError() error {
	return &porting.Error{Kind: porting.KindTimeout, Message: "request timeout",
		Data: map[string]any{"message": "the request body did not arrive in time"}}
}

// withIfMatch carries an If-Match revision into the request's context: the
// port request read or written must be at that revision (409 otherwise).
func withIfMatch(r *http.Request) *http.Request {
	m := strings.TrimSpace(r.Header.Get("If-Match"))
	m = strings.Trim(strings.TrimPrefix(m, "W/"), `"`)
	if m == "" || m == "*" {
		return r
	}
	return r.WithContext(porting.WithRevision(r.Context(), m))
}

// bodyRevision honours a revision the client echoes beside data (the
// envelope's "revision"), as If-Match.
func (c *call) bodyRevision(body porting.Fields) {
	if rev := body.String("revision"); rev != "" && rev != "undefined" {
		c.r = c.r.WithContext(porting.WithRevision(c.r.Context(), rev))
	}
}
