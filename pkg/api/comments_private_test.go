package api_test

import (
	"encoding/json"
	"slices"
	"testing"
)

// Private comments (Kazoo 4.3's is_private, 4.0's superduper_comment) are
// for the port authority and super-duper admins: the customer reads,
// lists, edits and deletes without ever seeing or losing them, and cannot
// write one.
func TestPrivateComments(t *testing.T) {
	f := newFixture(t)
	account := func(token, parent, body string) (string, string) {
		t.Helper()
		resp, raw := f.do(t, "PUT", "/v2/accounts/"+parent, token, `{"data":`+body+`}`, nil)
		var env struct {
			Data struct {
				ID string `json:"id"`
			} `json:"data"`
		}
		if resp.StatusCode != 201 || json.Unmarshal(raw, &env) != nil || env.Data.ID == "" {
			t.Fatalf("create account: %d %s", resp.StatusCode, raw)
		}
		tok, err := f.tokens.Issue(env.Data.ID)
		if err != nil {
			t.Fatal(err)
		}
		return env.Data.ID, tok
	}
	reseller, resellerTok := account(f.token, f.masterID, `{"name":"Reseller","port_authority":true}`)
	customer, customerTok := account(resellerTok, reseller, `{"name":"Customer"}`)
	base := "/v2/accounts/" + customer + "/port_requests"

	resp, raw := f.do(t, "PUT", base, customerTok, `{"data":{"name":"Private comments","numbers":{"+12025550177":{}},
		"comments":[{"timestamp":63900000100,"content":"bill attached","is_private":false}]}}`, nil)
	var created struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if resp.StatusCode != 201 || json.Unmarshal(raw, &created) != nil {
		t.Fatalf("create request: %d %s", resp.StatusCode, raw)
	}
	one := base + "/" + created.Data.ID

	// The authority writes a private comment and a Kazoo 4.0 one.
	if resp, raw := f.do(t, "PUT", one+"/comments", resellerTok, `{"data":{"comments":[
		{"timestamp":63900000200,"content":"carrier wants a new LOA","is_private":true},
		{"timestamp":63900000300,"content":"admins only","superduper_comment":true}]}}`, nil); resp.StatusCode != 200 {
		t.Fatalf("authority adds private comments: %d %s", resp.StatusCode, raw)
	}
	// The customer may not.
	if resp, raw := f.do(t, "PUT", one+"/comments", customerTok, `{"data":{"comments":[
		{"timestamp":63900000400,"content":"sneaky","is_private":true}]}}`, nil); resp.StatusCode != 400 {
		t.Errorf("customer adds a private comment: %d %s, want 400", resp.StatusCode, raw)
	}

	contents := func(token, path string) []string {
		t.Helper()
		resp, raw := f.do(t, "GET", path, token, "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, raw)
		}
		var env struct {
			Data json.RawMessage `json:"data"`
		}
		_ = json.Unmarshal(raw, &env)
		var reqs []struct {
			Comments []struct {
				Content string `json:"content"`
			} `json:"comments"`
		}
		var single struct {
			Comments []struct {
				Content string `json:"content"`
			} `json:"comments"`
		}
		var groups []struct {
			PortRequests json.RawMessage `json:"port_requests"`
		}
		switch {
		case json.Unmarshal(env.Data, &groups) == nil && len(groups) > 0 && groups[0].PortRequests != nil:
			for _, g := range groups {
				var rs []struct {
					Comments []struct {
						Content string `json:"content"`
					} `json:"comments"`
				}
				_ = json.Unmarshal(g.PortRequests, &rs)
				reqs = append(reqs, rs...)
			}
		default:
			_ = json.Unmarshal(env.Data, &single)
			reqs = append(reqs, single)
		}
		var out []string
		for _, r := range reqs {
			for _, c := range r.Comments {
				out = append(out, c.Content)
			}
		}
		return out
	}
	all := []string{"bill attached", "carrier wants a new LOA", "admins only"}
	public := []string{"bill attached"}
	for _, c := range []struct {
		who, token, path string
		want             []string
	}{
		{"customer GET", customerTok, one, public},
		{"customer listing", customerTok, base, public},
		{"authority GET", resellerTok, one, all},
		{"authority descendants listing", resellerTok, "/v2/accounts/" + reseller + "/descendants/port_requests", all},
		{"master GET", f.token, one, all},
	} {
		if got := contents(c.token, c.path); !slices.Equal(got, c.want) {
			t.Errorf("%s: comments %q, want %q", c.who, got, c.want)
		}
	}

	// The customer edits its draft, echoing an edited copy of the comments
	// it sees: comments change only through the comment routes (Kazoo 4.3
	// adds only comments newer than the stored ones), so nothing changes
	// and the private ones stay.
	if resp, raw := f.do(t, "POST", one, customerTok, `{"data":{"name":"Private comments","numbers":{"+12025550177":{}},
		"comments":[{"timestamp":63900000100,"content":"bill attached (again)"}]}}`, nil); resp.StatusCode != 200 {
		t.Fatalf("customer edits: %d %s", resp.StatusCode, raw)
	}
	if got, want := contents(resellerTok, one), all; !slices.Equal(got, want) {
		t.Errorf("after the customer's edit the authority reads %q, want %q", got, want)
	}
	// The customer deletes the first comment it sees: its own.
	if resp, raw := f.do(t, "DELETE", one+"/comments/0", customerTok, "", nil); resp.StatusCode != 200 {
		t.Fatalf("customer deletes a comment: %d %s", resp.StatusCode, raw)
	}
	if got, want := contents(resellerTok, one), []string{"carrier wants a new LOA", "admins only"}; !slices.Equal(got, want) {
		t.Errorf("after the customer's delete the authority reads %q, want %q", got, want)
	}
	if resp, _ := f.do(t, "DELETE", one+"/comments/0", customerTok, "", nil); resp.StatusCode != 404 {
		t.Errorf("customer deletes a comment it cannot see: %d, want 404", resp.StatusCode)
	}
}
