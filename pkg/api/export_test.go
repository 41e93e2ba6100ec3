package api

import (
	"net/http"

	"github.com/gorilla/mux"
)

// Route is one method on one path template, as routes.go registers it.
type Route struct{ Method, Template string }

// Routes lists every route portreqd serves, for the tests that compare
// it with the OpenAPI document and ask docs/api.md for an example of each.
func Routes() ([]Route, error) {
	var out []Route
	err := (&API{}).routes().(*mux.Router).Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tmpl, err := route.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			return err
		}
		for _, m := range methods {
			out = append(out, Route{Method: m, Template: tmpl})
		}
		return nil
	})
	return out, err
}

// RouteOf returns the route that serves method on path, as the router
// chooses it.
func RouteOf(method, path string) (Route, bool) {
	router := (&API{}).routes().(*mux.Router)
	req, err := http.NewRequest(method, path, nil)
	if err != nil {
		return Route{}, false
	}
	var m mux.RouteMatch
	if !router.Match(req, &m) || m.Route == nil || m.MatchErr != nil {
		return Route{}, false
	}
	tmpl, _ := m.Route.GetPathTemplate()
	return Route{Method: method, Template: tmpl}, true
}
