package api

import (
	"net/http"

	"github.com/gorilla/mux"
)

// Route is one method on one path template, as routes.go registers it.
type Route struct{ Method, Template string }

// Routes lists every route portreqd serves, for the test that asks
// docs/api.md for an example of each.
func Routes() []Route {
	var out []Route
	router := (&API{}).routes().(*mux.Router)
	_ = router.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tmpl, _ := route.GetPathTemplate()
		methods, _ := route.GetMethods()
		for _, m := range methods {
			out = append(out, Route{Method: m, Template: tmpl})
		}
		return nil
	})
	return out
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
