package browser

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLoginProblems checks the walk's login assertion on hand-made gateway
// records: it passes only when portreqd itself answered the form's
// user_auth and the user's GET.
func TestLoginProblems(t *testing.T) {
	carol := walkUser{FirstName: "Carol", LastName: "Customer", Username: "carol@customer.example.com",
		Password: "carol-files-a-port-request", AccountID: "a1", ID: "u1"}
	// md5("carol@customer.example.com:carol-files-a-port-request")
	const creds = "a84d5abae85a5cfb4ab6bc33ce44e70e"
	auth := hit{Method: http.MethodPut, Path: "/v2/user_auth", By: byPortreqd, Status: http.StatusCreated,
		ReqBody: `{"data":{"credentials":"` + creds + `","account_name":"Customer Co"}}`}
	user := hit{Method: http.MethodGet, Path: "/v2/accounts/a1/users/u1", By: byPortreqd, Status: http.StatusOK}
	noAuth := "Carol Customer: no PUT /v2/user_auth with the login form's credentials answered 201 by portreqd"
	noUser := "Carol Customer: no GET /v2/accounts/a1/users/u1 answered 200 by portreqd (the logged-in user)"
	info := hit{Method: http.MethodPost, Path: "/v2/auth/tokeninfo", By: byPortreqd, Status: http.StatusOK}
	noInfo := "no POST /v2/auth/tokeninfo answered 200 by portreqd (the reload's session resumption)"

	with := func(h hit, change func(*hit)) hit { change(&h); return h }
	tests := []struct {
		name string
		hits []hit
		want []string
	}{
		{"all by portreqd", []hit{auth, user, info}, nil},
		{"nothing", nil, []string{noAuth, noUser, noInfo}},
		{"user_auth refused", []hit{with(auth, func(h *hit) { h.Status = http.StatusUnauthorized }), user, info}, []string{noAuth}},
		{"other credentials", []hit{with(auth, func(h *hit) { h.ReqBody = `{"data":{"credentials":"00"}}` }), user, info}, []string{noAuth}},
		{"another user fetched", []hit{auth, with(user, func(h *hit) { h.Path = "/v2/accounts/a1/users/u2" }), info}, []string{noUser}},
		{"tokeninfo refused", []hit{auth, user, with(info, func(h *hit) { h.Status = http.StatusUnauthorized })}, []string{noInfo}},
		{"fixtures answered", []hit{with(auth, func(h *hit) { h.By = byFixture }), with(user, func(h *hit) { h.By = byFixture }), with(info, func(h *hit) { h.By = byFixture })},
			[]string{noAuth, noUser, noInfo, "a fixture answered PUT /v2/user_auth", "a fixture answered GET /v2/accounts/a1/users/u1", "a fixture answered POST /v2/auth/tokeninfo"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := &gateway{}
			for i := range tc.hits {
				g.hits = append(g.hits, &tc.hits[i])
			}
			if diff := cmp.Diff(tc.want, g.loginProblems([]walkUser{carol})); diff != "" {
				t.Errorf("loginProblems (-want +got):\n%s", diff)
			}
		})
	}
}
