package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/gorilla/mux"

	"github.com/portreqd/portreqd/pkg/porting"
)

// routes lists every route portreqd serves, in one place.
func (a *API) routes() http.Handler {
	r := mux.NewRouter()
	r.Use(a.recordRoute)

	handle(r, "/healthz", http.HandlerFunc(a.health), http.MethodGet, http.MethodHead)
	handle(r, "/v2/api_auth", a.limited(a.json(a.apiAuth)), http.MethodPut)
	handle(r, "/v2/user_auth", a.limited(a.json(a.userAuth)), http.MethodPut)
	handle(r, "/v2/auth/tokeninfo", a.json(a.tokenInfo), http.MethodGet, http.MethodPost)
	handle(r, "/v2/openapi.json", http.HandlerFunc(a.openAPI), http.MethodGet)

	const account = "/v2/accounts/{account_id}"
	handle(r, account, a.authed(a.getAccount), http.MethodGet)
	handle(r, account, a.authed(a.createAccount), http.MethodPut)
	handle(r, account, a.authed(a.updateAccount), http.MethodPost)
	handle(r, account+"/children", a.authed(a.listChildren), http.MethodGet)
	handle(r, account+"/descendants", a.authed(a.listDescendants), http.MethodGet)
	handle(r, account+"/api_key", a.authed(a.getAPIKey), http.MethodGet)
	handle(r, account+"/phone_numbers", a.authed(a.phoneNumbers), http.MethodGet)
	handle(r, account+"/loa_logo", a.streaming(a.authed(a.putLOALogo)), http.MethodPut)

	const users, user = account + "/users", account + "/users/{user_id}"
	handle(r, users, a.authed(a.listUsers), http.MethodGet)
	handle(r, users, a.authed(a.createUser), http.MethodPut)
	handle(r, user, a.authed(a.getUser), http.MethodGet)
	handle(r, user, a.authed(a.updateUser), http.MethodPost)
	handle(r, user, a.authed(a.deleteUser), http.MethodDelete)

	const (
		id    = "/{request_id}"
		state = "/{state:unconfirmed|submitted|pending|scheduled|completed|rejected|canceled}"
		to    = "/{state:submitted|pending|scheduled|completed|rejected|canceled}"
	)
	const requests = account + "/port_requests"
	handle(r, requests, a.authed(a.listAll), http.MethodGet)
	handle(r, requests, a.authed(a.createRequest), http.MethodPut)
	handle(r, requests+state, a.authed(a.listAll), http.MethodGet)
	handle(r, requests+"/last_submitted", a.authed(a.lastSubmitted), http.MethodGet)
	handle(r, requests+"/lnp_lookup", a.authed(a.lnpLookup), http.MethodPost)
	handle(r, requests+id, a.authed(a.getRequest), http.MethodGet)
	handle(r, requests+id, a.authed(a.updateRequest), http.MethodPost)
	handle(r, requests+id, a.authed(a.deleteRequest), http.MethodDelete)
	handle(r, requests+id+to, a.authed(a.transition), http.MethodPatch)
	handle(r, requests+id+"/attachments", a.authed(a.listAttachments), http.MethodGet)
	handle(r, requests+id+"/attachments", a.streaming(a.authed(a.putAttachment)), http.MethodPut)
	handle(r, requests+id+"/attachments/{name}", a.streaming(a.download(a.getAttachment)), http.MethodGet)
	handle(r, requests+id+"/attachments/{name}", a.streaming(a.authed(a.replaceAttachment)), http.MethodPost)
	handle(r, requests+id+"/attachments/{name}", a.authed(a.deleteAttachment), http.MethodDelete)
	handle(r, requests+id+"/loa", a.streaming(a.download(a.getLOA)), http.MethodGet)
	handle(r, requests+id+"/timeline", a.authed(a.timeline), http.MethodGet)
	handle(r, requests+id+"/comments", a.authed(a.listComments), http.MethodGet)
	handle(r, requests+id+"/comments", a.authed(a.addComments), http.MethodPut)
	handle(r, requests+id+"/comments/{index:[0-9]+}", a.authed(a.deleteComment), http.MethodDelete)

	const hooks, hook = account + "/port_webhooks", account + "/port_webhooks/{webhook_id}"
	handle(r, hooks, a.authed(a.listWebhooks), http.MethodGet)
	handle(r, hooks, a.authed(a.createWebhook), http.MethodPut)
	handle(r, hook, a.authed(a.getWebhook), http.MethodGet)
	handle(r, hook, a.authed(a.deleteWebhook), http.MethodDelete)
	handle(r, hook+"/test", a.authed(a.testWebhook), http.MethodPost)
	handle(r, hook+"/deliveries", a.authed(a.webhookDeliveries), http.MethodGet)
	handle(r, hook+"/deliveries/{delivery_id}/replay", a.authed(a.replayDelivery), http.MethodPost)

	const notes, note = account + "/port_notifications", account + "/port_notifications/{template_id}"
	handle(r, notes, a.authed(a.listNotifications), http.MethodGet)
	handle(r, note, a.authed(a.getNotification), http.MethodGet)
	handle(r, note, a.authed(a.setNotification), http.MethodPost)
	handle(r, note, a.authed(a.resetNotification), http.MethodDelete)

	handle(r, account+"/descendants/port_requests", a.authed(a.listDescendantsAll), http.MethodGet)
	handle(r, "/v2/port_requests", a.authed(a.agentQueue), http.MethodGet)
	handle(r, "/v2/port_deliveries", a.authed(a.deliveryStatus), http.MethodGet)
	handle(r, account+"/descendants/port_requests"+state, a.authed(a.listDescendantsAll), http.MethodGet)

	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, &porting.Error{Kind: porting.KindNotFound, Message: "not found",
			Data: map[string]any{"message": "no such route: " + r.Method + " " + r.URL.Path}})
	})
	r.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, &porting.Error{Kind: porting.KindMethodNotAllowed, Message: "invalid method",
			Data: map[string]any{"message": "method " + r.Method + " is not allowed on this route"}})
	})
	return r
}

// handle registers h for methods on the path template tmpl.
//
// mux tries routes in order and runs each one's regular expression on the
// path: finding a port request's route ran about twenty of them, 16 µs, a
// sixth of a GET's CPU (BenchmarkRoute, load tool profiles). A route first
// compares the path's segments with its template's literal ones, which
// costs nanoseconds and rejects every route that cannot match; the regular
// expression then runs only where it may match, and still decides (and
// extracts the variables), so routing answers exactly as before.
func handle(r *mux.Router, tmpl string, h http.Handler, methods ...string) {
	r.NewRoute().MatcherFunc(shapeOf(tmpl)).Path(tmpl).Methods(methods...).Handler(h)
}

// shapeOf returns a matcher accepting paths with as many segments as tmpl
// and the same literal segments. A {variable} segment accepts any, except
// one whose pattern lists words ({state:submitted|pending}): then one of
// them.
func shapeOf(tmpl string) mux.MatcherFunc {
	type segment struct {
		literal string
		words   []string // nil: any
		any     bool
	}
	var segs []segment
	for _, s := range strings.Split(strings.TrimPrefix(tmpl, "/"), "/") {
		inner, isVar := strings.CutPrefix(s, "{")
		if !isVar {
			segs = append(segs, segment{literal: s})
			continue
		}
		_, pattern, _ := strings.Cut(strings.TrimSuffix(inner, "}"), ":")
		if pattern != "" && strings.Trim(pattern, "abcdefghijklmnopqrstuvwxyz_|") == "" {
			segs = append(segs, segment{words: strings.Split(pattern, "|")})
			continue
		}
		segs = append(segs, segment{any: true})
	}
	return func(r *http.Request, _ *mux.RouteMatch) bool {
		path := strings.TrimPrefix(r.URL.Path, "/")
		for i, seg := range segs {
			part, rest, more := strings.Cut(path, "/")
			if more != (i < len(segs)-1) {
				return false
			}
			switch {
			case seg.any:
			case seg.words != nil:
				if !slices.Contains(seg.words, part) {
					return false
				}
			case part != seg.literal:
				return false
			}
			path = rest
		}
		return true
	}
}

// recordRoute notes the matched route template for the access log.
func (a *API) recordRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info := infoFrom(r); info != nil {
			if route := mux.CurrentRoute(r); route != nil {
				info.route, _ = route.GetPathTemplate()
			}
		}
		next.ServeHTTP(w, r)
	})
}

// vars returns the route's path variables.
func vars(r *http.Request) map[string]string { return mux.Vars(r) }
