package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// TestOddStringsThroughTheAPI stores odd strings (control characters, DEL,
// U+2028 and U+2029, quotes, backslashes, HTML, bytes that are not UTF-8)
// as account names, port request names, member names and attachment names
// through the API on the embedded engine, and parses every GET and listing
// answer strictly: valid UTF-8, valid JSON, one object and nothing after
// it, and every string as encoding/json decodes what the client sent
// (bytes that are not UTF-8 become U+FFFD, never reach an answer raw).
func TestOddStringsThroughTheAPI(t *testing.T) {
	f := newFixture(t)
	odd := []string{
		"tab\there", "ctl\x01\x1f", "del\x7f", "ls\u2028ps\u2029", `quote"back\slash`, "<b>&amp;</b>",
		"bad\xffutf8", "trunc\xc3", "surrogate\xed\xa0\x80", "é 日本 🙂", "bom\ufeff",
	}
	for i, s := range odd {
		t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
			if !utf8.ValidString(s) {
				refusedNotUTF8(t, f, s)
				return
			}
			want := decoded(t, s)
			// An account named s, below the master account.
			acct := strictGet(t, f, http.MethodPut, "/v2/accounts/"+f.masterID, `{"data":{"name":`+sent(s)+`}}`)
			data := acct["data"].(map[string]any)
			id, _ := data["id"].(string)
			if data["name"] != want {
				t.Fatalf("account created as %q, want %q", data["name"], want)
			}
			number := fmt.Sprintf("+1312555%04d", 100+i)
			body := `{"data":{"name":` + sent(s) + `,"numbers":{"` + number + `":{}},` + sent("k "+s) + `:` + sent(s) + `}}`
			created := strictGet(t, f, http.MethodPut, "/v2/accounts/"+id+"/port_requests", body)
			reqID, _ := created["data"].(map[string]any)["id"].(string)
			checkRow(t, "created", created["data"], want)
			// Refused in attachment names: slashes, control characters.
			uploaded := !strings.ContainsAny(s, `/\`) && strings.IndexFunc(s, unicode.IsControl) < 0
			if uploaded {
				strictGet(t, f, http.MethodPut, "/v2/accounts/"+id+"/port_requests/"+reqID+"/attachments?filename="+url.QueryEscape(s),
					"odd", "Content-Type", "text/plain")
			}

			got := strictGet(t, f, http.MethodGet, "/v2/accounts/"+id, "")
			if name := got["data"].(map[string]any)["name"]; name != want {
				t.Errorf("GET account: name %q, want %q", name, want)
			}
			row := strictGet(t, f, http.MethodGet, "/v2/accounts/"+id+"/port_requests/"+reqID, "")["data"]
			checkRow(t, "GET", row, want)
			// Attachment names are trimmed (porting.AttachmentName): U+2029 is
			// white space.
			if uploads, _ := row.(map[string]any)["uploads"].(map[string]any); uploaded && uploads[strings.TrimSpace(want)] == nil {
				t.Errorf("GET: uploads %v, want one named %q", uploads, strings.TrimSpace(want))
			} else if uploaded {
				// A client downloads it by the name it was shown.
				path := "/v2/accounts/" + id + "/port_requests/" + reqID + "/attachments/" + url.PathEscape(strings.TrimSpace(want))
				if resp, body := f.do(t, http.MethodGet, path, f.token, "", nil); resp.StatusCode != 200 || string(body) != "odd" {
					t.Errorf("GET %s: %s %q, want the upload", path, resp.Status, body)
				}
			}
			for _, path := range []string{
				"/v2/accounts/" + id + "/port_requests",
				"/v2/accounts/" + id + "/port_requests/unconfirmed",
				"/v2/accounts/" + f.masterID + "/descendants/port_requests",
				"/v2/accounts/" + f.masterID + "/descendants/port_requests/unconfirmed",
			} {
				groups, _ := strictGet(t, f, http.MethodGet, path, "")["data"].([]any)
				found := false
				for _, g := range groups {
					g := g.(map[string]any)
					if g["account_id"] != id {
						continue
					}
					found = true
					if g["account_name"] != want {
						t.Errorf("%s: account_name %q, want %q", path, g["account_name"], want)
					}
					for _, r := range g["port_requests"].([]any) {
						checkRow(t, path, r, want)
					}
				}
				if !found {
					t.Errorf("%s: no group of account %s", path, id)
				}
			}
			flat, _ := strictGet(t, f, http.MethodGet, "/v2/accounts/"+id+"/port_requests?by_number="+url.QueryEscape(number), "")["data"].([]any)
			if len(flat) != 1 {
				t.Fatalf("by_number: %d rows, want 1", len(flat))
			}
			checkRow(t, "by_number", flat[0], want)
			for _, path := range []string{"/v2/accounts/" + f.masterID + "/children", "/v2/accounts/" + f.masterID + "/descendants"} {
				accts, _ := strictGet(t, f, http.MethodGet, path, "")["data"].([]any)
				for _, a := range accts {
					if a := a.(map[string]any); a["id"] == id && a["name"] != want {
						t.Errorf("%s: name %q, want %q", path, a["name"], want)
					}
				}
			}
		})
	}
}

// refusedNotUTF8 checks that a body or a file name that is not UTF-8 is
// refused with 400, and nothing is made of it (stored as sent, it made the
// reseller's and the master's listings unparseable for strict clients).
func refusedNotUTF8(t *testing.T, f *fixture, s string) {
	t.Helper()
	for _, c := range []struct{ method, path, body string }{
		{http.MethodPut, "/v2/accounts/" + f.masterID, `{"data":{"name":` + sent(s) + `}}`},
		{http.MethodPut, "/v2/accounts/" + f.masterID + "/port_requests", `{"data":{"name":` + sent(s) + `,"numbers":{"+13125559999":{}}}}`},
		{http.MethodPost, "/v2/accounts/" + f.masterID, `{"data":{` + sent("k "+s) + `:1}}`},
	} {
		resp, raw := f.do(t, c.method, c.path, f.token, c.body, nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(raw), "UTF-8") {
			t.Errorf("%s %s with %q: %s %.300s, want 400 naming UTF-8", c.method, c.path, s, resp.Status, raw)
		}
	}
	children, _ := strictGet(t, f, http.MethodGet, "/v2/accounts/"+f.masterID+"/children", "")["data"].([]any)
	for _, a := range children {
		if name, _ := a.(map[string]any)["name"].(string); strings.Contains(name, "\ufffd") {
			t.Errorf("an account was made of %q: %q", s, name)
		}
	}
}

// checkRow checks the strings of a port request as answers show it.
func checkRow(t *testing.T, where string, row any, want string) {
	t.Helper()
	r, _ := row.(map[string]any)
	ro, _ := r["_read_only"].(map[string]any)
	switch {
	case r["name"] != want:
		t.Errorf("%s: name %q, want %q", where, r["name"], want)
	case r["k "+want] != want:
		t.Errorf("%s: member %q is %q, want %q", where, "k "+want, r["k "+want], want)
	case ro["account_name"] != want:
		t.Errorf("%s: _read_only.account_name %q, want %q", where, ro["account_name"], want)
	}
}

// strictGet sends a request as the master account and parses its answer
// strictly; header pairs follow the body.
func strictGet(t *testing.T, f *fixture, method, path, body string, header ...string) map[string]any {
	t.Helper()
	h := map[string]string{}
	for i := 0; i+1 < len(header); i += 2 {
		h[header[i]] = header[i+1]
	}
	resp, raw := f.do(t, method, path, f.token, body, h)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %s %.400s", method, path, resp.Status, raw)
	}
	if !utf8.Valid(raw) {
		t.Fatalf("%s %s: answer is not UTF-8: %.400q", method, path, raw)
	}
	if !json.Valid(raw) {
		t.Fatalf("%s %s: answer is not JSON: %.400q", method, path, raw)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s %s: %v in %.400q", method, path, err, raw)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("%s %s: more after the answer (%v): %.400q", method, path, err, raw)
	}
	if v["status"] != "success" {
		t.Fatalf("%s %s: %.400q", method, path, raw)
	}
	return v
}

// sent quotes s as a client might: quotes, backslashes and control
// characters escaped, every other byte as it is, UTF-8 or not.
func sent(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// decoded is what encoding/json makes of s as the client sent it.
func decoded(t *testing.T, s string) string {
	t.Helper()
	var out string
	if err := json.Unmarshal([]byte(sent(s)), &out); err != nil {
		t.Fatal(err)
	}
	return out
}
