package api

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/portreqd/portreqd/pkg/porting"
)

// routes lists every route portreqd serves, in one place.
func (a *API) routes() http.Handler {
	r := mux.NewRouter()
	r.Use(a.recordRoute)

	r.Handle("/healthz", http.HandlerFunc(a.health)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/v2/api_auth", a.json(a.apiAuth)).Methods(http.MethodPut)

	const account = "/v2/accounts/{account_id}"
	r.Handle(account, a.authed(a.getAccount)).Methods(http.MethodGet)
	r.Handle(account, a.authed(a.createAccount)).Methods(http.MethodPut)
	r.Handle(account, a.authed(a.updateAccount)).Methods(http.MethodPost)
	r.Handle(account+"/children", a.authed(a.listChildren)).Methods(http.MethodGet)
	r.Handle(account+"/descendants", a.authed(a.listDescendants)).Methods(http.MethodGet)
	r.Handle(account+"/api_key", a.authed(a.getAPIKey)).Methods(http.MethodGet)
	r.Handle(account+"/phone_numbers", a.authed(a.phoneNumbers)).Methods(http.MethodGet)
	r.Handle(account+"/loa_logo", a.authed(a.putLOALogo)).Methods(http.MethodPut)

	const (
		id    = "/{request_id}"
		state = "/{state:unconfirmed|submitted|pending|scheduled|completed|rejected|canceled}"
		to    = "/{state:submitted|pending|scheduled|completed|rejected|canceled}"
	)
	const requests = account + "/port_requests"
	r.Handle(requests, a.authed(a.listAll)).Methods(http.MethodGet)
	r.Handle(requests, a.authed(a.createRequest)).Methods(http.MethodPut)
	r.Handle(requests+state, a.authed(a.listAll)).Methods(http.MethodGet)
	r.Handle(requests+id, a.authed(a.getRequest)).Methods(http.MethodGet)
	r.Handle(requests+id, a.authed(a.updateRequest)).Methods(http.MethodPost)
	r.Handle(requests+id, a.authed(a.deleteRequest)).Methods(http.MethodDelete)
	r.Handle(requests+id+to, a.authed(a.transition)).Methods(http.MethodPatch)
	r.Handle(requests+id+"/attachments", a.authed(a.listAttachments)).Methods(http.MethodGet)
	r.Handle(requests+id+"/attachments", a.authed(a.putAttachment)).Methods(http.MethodPut)
	r.Handle(requests+id+"/attachments/{name}", a.download(a.getAttachment)).Methods(http.MethodGet)
	r.Handle(requests+id+"/attachments/{name}", a.authed(a.replaceAttachment)).Methods(http.MethodPost)
	r.Handle(requests+id+"/attachments/{name}", a.authed(a.deleteAttachment)).Methods(http.MethodDelete)
	r.Handle(requests+id+"/loa", a.download(a.getLOA)).Methods(http.MethodGet)
	r.Handle(requests+id+"/comments", a.authed(a.addComments)).Methods(http.MethodPut)
	r.Handle(requests+id+"/comments/{index:[0-9]+}", a.authed(a.deleteComment)).Methods(http.MethodDelete)

	r.Handle(account+"/descendants/port_requests", a.authed(a.listDescendantsAll)).Methods(http.MethodGet)
	r.Handle(account+"/descendants/port_requests"+state, a.authed(a.listDescendantsAll)).Methods(http.MethodGet)

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
