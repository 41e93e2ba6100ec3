package api

import (
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"
)

// BenchmarkRoute measures finding the route of the hottest calls.
func BenchmarkRoute(b *testing.B) {
	r := (&API{}).routes().(*mux.Router)
	const acct = "/v2/accounts/0123456789abcdef0123456789abcdef"
	for _, c := range []struct{ name, method, path string }{
		{"get_request", "GET", acct + "/port_requests/fedcba9876543210fedcba9876543210"},
		{"page", "GET", acct + "/port_requests/completed"},
		{"descendants_page", "GET", acct + "/descendants/port_requests/completed"},
		{"get_account", "GET", acct},
		{"transition", "PATCH", acct + "/port_requests/fedcba9876543210fedcba9876543210/submitted"},
	} {
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest(c.method, c.path, nil)
			b.ReportAllocs()
			for b.Loop() {
				var m mux.RouteMatch
				if !r.Match(req, &m) || m.MatchErr != nil {
					b.Fatal("no match")
				}
			}
		})
	}
}

// TestRouteShapes checks that the segment pre-check routes every call to
// the template mux's expressions alone would pick, and leaves 404 and 405
// as they were.
func TestRouteShapes(t *testing.T) {
	r := (&API{}).routes().(*mux.Router)
	const acct = "/v2/accounts/0123456789abcdef0123456789abcdef"
	const req = acct + "/port_requests/fedcba9876543210fedcba9876543210"
	cases := []struct {
		method, path, template string
		vars                   map[string]string
		err                    error
	}{
		{"GET", "/healthz", "/healthz", nil, nil},
		{"GET", acct, "/v2/accounts/{account_id}", map[string]string{"account_id": "0123456789abcdef0123456789abcdef"}, nil},
		{"GET", acct + "/port_requests", "/v2/accounts/{account_id}/port_requests", nil, nil},
		{"GET", acct + "/port_requests/completed", "/v2/accounts/{account_id}/port_requests/{state:unconfirmed|submitted|pending|scheduled|completed|rejected|canceled}", map[string]string{"state": "completed"}, nil},
		{"GET", req, "/v2/accounts/{account_id}/port_requests/{request_id}", map[string]string{"request_id": "fedcba9876543210fedcba9876543210"}, nil},
		{"PATCH", req + "/pending", "/v2/accounts/{account_id}/port_requests/{request_id}/{state:submitted|pending|scheduled|completed|rejected|canceled}", map[string]string{"state": "pending"}, nil},
		{"GET", req + "/attachments/bill.pdf", "/v2/accounts/{account_id}/port_requests/{request_id}/attachments/{name}", map[string]string{"name": "bill.pdf"}, nil},
		{"DELETE", req + "/comments/3", "/v2/accounts/{account_id}/port_requests/{request_id}/comments/{index:[0-9]+}", map[string]string{"index": "3"}, nil},
		{"GET", acct + "/descendants/port_requests/submitted", "/v2/accounts/{account_id}/descendants/port_requests/{state:unconfirmed|submitted|pending|scheduled|completed|rejected|canceled}", nil, nil},
		{"GET", acct + "/descendants", "/v2/accounts/{account_id}/descendants", nil, nil},
		{"PATCH", req + "/unconfirmed", "", nil, mux.ErrNotFound},
		{"DELETE", req + "/comments/x", "", nil, mux.ErrNotFound},
		{"GET", acct + "/port_requests/x/y/z/w", "", nil, mux.ErrNotFound},
		{"GET", "/v2/accounts", "", nil, mux.ErrNotFound},
		{"PATCH", acct, "", nil, mux.ErrMethodMismatch},
		{"PUT", req + "/loa", "", nil, mux.ErrMethodMismatch},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			var m mux.RouteMatch
			matched := r.Match(httptest.NewRequest(c.method, c.path, nil), &m)
			if c.err != nil {
				if matched && m.MatchErr == nil || m.MatchErr != c.err {
					t.Fatalf("matched=%v err=%v; want %v", matched, m.MatchErr, c.err)
				}
				return
			}
			if !matched || m.MatchErr != nil {
				t.Fatalf("no match: %v", m.MatchErr)
			}
			got, _ := m.Route.GetPathTemplate()
			if got != c.template {
				t.Fatalf("template %q, want %q", got, c.template)
			}
			for k, v := range c.vars {
				if m.Vars[k] != v {
					t.Errorf("var %s = %q, want %q", k, m.Vars[k], v)
				}
			}
		})
	}
}
