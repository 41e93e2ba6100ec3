package api

import (
	"github.com/gorilla/mux"
)

// Routes lists what the router serves as method and path template pairs
// ("GET /v2/accounts/{account_id}"), for tests that compare it with the
// OpenAPI document.
func Routes() ([][2]string, error) {
	var out [][2]string
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
			out = append(out, [2]string{m, tmpl})
		}
		return nil
	})
	return out, err
}
