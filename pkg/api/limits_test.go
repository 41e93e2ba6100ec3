package api_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/api"
)

// pngDeclaring is a valid PNG header declaring w×h pixels.
func pngDeclaring(t *testing.T, w, h uint32) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// A logo is checked by its decoded size, not only its bytes: a PNG of a
// few hundred bytes declaring 900 million pixels is refused (it took the
// server to 5.7 GB per render before), a letterhead-sized one accepted.
func TestLogoBombRefused(t *testing.T) {
	tr := newTree43(t)
	path := "/v2/accounts/" + tr.customer + "/loa_logo"
	resp, raw := tr.f.do(t, "PUT", path, tr.customerTok, string(pngDeclaring(t, 30000, 30000)), map[string]string{"Content-Type": "image/png"})
	if resp.StatusCode != 400 || !strings.Contains(string(raw), "30000×30000 pixels") {
		t.Errorf("bomb logo: %d %s, want 400 naming its size", resp.StatusCode, raw)
	}
	resp, raw = tr.f.do(t, "PUT", path, tr.customerTok, string(pngDeclaring(t, 600, 200)), map[string]string{"Content-Type": "image/png"})
	if resp.StatusCode != 201 {
		t.Errorf("letterhead logo: %d %s, want 201", resp.StatusCode, raw)
	}
	resp, raw = tr.f.do(t, "PUT", path, tr.customerTok, "GIF89a", map[string]string{"Content-Type": "image/gif"})
	if resp.StatusCode != 415 {
		t.Errorf("gif logo: %d %s, want 415", resp.StatusCode, raw)
	}
}

// A customer cannot make itself a port authority: neither a sub-account
// created with port_authority nor one flagged later. (Before, it did, and
// through that sub-account completed its own ports while its reseller got
// 403.) A port authority may make one below it.
func TestNoSelfMadeAuthority(t *testing.T) {
	tr := newTree43(t)
	env := tr.call(t, "PUT", "/v2/accounts/"+tr.customer, tr.customerTok, `{"data":{"name":"Shadow","port_authority":true}}`, 403)
	if !strings.Contains(mustJSON(t, env), "port authority") {
		t.Errorf("refusal: %s", mustJSON(t, env))
	}
	sub, _ := tr.account(t, tr.customerTok, tr.customer, `{"name":"Sub"}`)
	tr.call(t, "POST", "/v2/accounts/"+sub, tr.customerTok, `{"data":{"port_authority":true}}`, 403)
	if d := tr.call(t, "GET", "/v2/accounts/"+sub, tr.customerTok, "", 200)["data"].(map[string]any); d["port_authority"] != false {
		t.Errorf("sub-account after the refused flag: %v", d)
	}
	// The customer's request still answers to the reseller, not to Sub.
	id := tr.request(t, "still the reseller's", "+12025550341", "submitted")
	tr.call(t, "PATCH", "/v2/accounts/"+tr.customer+"/port_requests/"+id+"/pending", tr.resellerTok, "", 200)
	// The reseller (an authority) may make an authority below it.
	tr.call(t, "POST", "/v2/accounts/"+sub, tr.resellerTok, `{"data":{"port_authority":true}}`, 200)
	tr.call(t, "PUT", "/v2/accounts/"+tr.customer, tr.resellerTok, `{"data":{"name":"Regional authority","port_authority":true}}`, 201)
}

// A client that sends its body too slowly is answered 408 and cut off at
// the deadline (300 slow uploads held their connections for ever before);
// a route that takes no token reads at most 64 KiB.
func TestSlowBodyAndAnonymousCap(t *testing.T) {
	tr := newTree43(t, func(c *api.Config) {
		c.Timeouts = api.Timeouts{Body: 300 * time.Millisecond, Upload: 300 * time.Millisecond, Answer: time.Second}
	})
	for _, path := range []string{"/v2/api_auth", "/v2/accounts/" + tr.customer + "/port_requests/0123456789abcdef0123456789abcdef/attachments?filename=x.pdf"} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(tr.f.srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: x\r\nX-Auth-Token: %s\r\nContent-Type: application/pdf\r\nContent-Length: 1000\r\n\r\n{\"data\":", path, tr.customerTok)
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		took := time.Since(start)
		conn.Close()
		if err != nil {
			t.Errorf("%s: no answer to a stalled body: %v", path, err)
			continue
		}
		if took > 5*time.Second {
			t.Errorf("%s: answered after %v", path, took)
		}
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Errorf("%s: %d, want 408", path, resp.StatusCode)
		}
		t.Logf("%s: %d after %v", path, resp.StatusCode, took.Round(time.Millisecond))
	}
	resp, raw := tr.f.do(t, "PUT", "/v2/api_auth", "", `{"data":{"api_key":"`+strings.Repeat("k", 70<<10)+`"}}`, nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("70 KiB api_auth body: %d %.200s, want 413", resp.StatusCode, raw)
	}
	if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
	}
}

// The numbers of a completed request are in service on it: not even the
// authority may change them (the old number stayed in service, unlisted).
func TestCompletedNumbersImmutable(t *testing.T) {
	tr := newTree43(t)
	id := tr.request(t, "done", "+12025550351", "submitted", "pending", "completed")
	one := "/v2/accounts/" + tr.customer + "/port_requests/" + id
	env := tr.call(t, "POST", one, tr.resellerTok, `{"data":{"name":"done","numbers":{"+12025550352":{}}}}`, 400)
	if !strings.Contains(mustJSON(t, env), "cannot change") {
		t.Errorf("refusal: %s", mustJSON(t, env))
	}
	// Other members may still change, the numbers as they are.
	tr.call(t, "POST", one, tr.resellerTok, `{"data":{"name":"done, renamed","numbers":{"+12025550351":{}}}}`, 200)
	nums := tr.call(t, "GET", "/v2/accounts/"+tr.customer+"/phone_numbers", tr.customerTok, "", 200)["data"].(map[string]any)["numbers"].(map[string]any)
	if _, ok := nums["+12025550351"]; !ok || len(nums) != 1 {
		t.Errorf("numbers in service: %v", nums)
	}
}

// Guessing API keys or passwords from one address is cut to the
// configured rate with 429 and Retry-After (727 wrong keys a second went
// through before); api_auth and user_auth draw on one allowance.
func TestLoginRateLimit(t *testing.T) {
	for _, tt := range []struct{ name, path, body string }{
		{"api_auth", "/v2/api_auth", `{"data":{"api_key":"wrong-%d"}}`},
		{"user_auth", "/v2/user_auth", `{"data":{"credentials":"%032x","account_name":"anyone"}}`},
	} {
		tr := newTree43(t, func(c *api.Config) { c.LoginsPerSecond, c.LoginBurst = 0.5, 3 })
		var statuses []int
		var retry string
		for i := 0; i < 6; i++ {
			resp, _ := tr.f.do(t, "PUT", tt.path, "", fmt.Sprintf(tt.body, i), nil)
			statuses = append(statuses, resp.StatusCode)
			if resp.StatusCode == http.StatusTooManyRequests {
				retry = resp.Header.Get("Retry-After")
			}
		}
		if fmt.Sprint(statuses) != "[401 401 401 429 429 429]" || retry == "" || retry == "0" {
			t.Errorf("%s: 6 quick wrong tries: %v (Retry-After %q), want 3 refused as wrong, then 429 with Retry-After", tt.name, statuses, retry)
		}
	}
}

// Once submitted, the customer may add documents but not replace one the
// authority reviews; the authority may.
func TestSubmittedAttachmentsNotReplacedByOwner(t *testing.T) {
	tr := newTree43(t)
	id := tr.request(t, "docs", "+12025550381")
	att := "/v2/accounts/" + tr.customer + "/port_requests/" + id + "/attachments"
	put := func(token, method, path, body string, want int) {
		t.Helper()
		resp, raw := tr.f.do(t, method, path, token, body, map[string]string{"Content-Type": "text/plain"})
		if resp.StatusCode != want {
			t.Errorf("%s %s: %d %s, want %d", method, path, resp.StatusCode, raw, want)
		}
	}
	put(tr.customerTok, "PUT", att+"?filename=bill.txt", "original", 201)
	tr.call(t, "PATCH", "/v2/accounts/"+tr.customer+"/port_requests/"+id+"/submitted", tr.customerTok, "", 200)
	put(tr.customerTok, "POST", att+"/bill.txt", "swapped", 403)
	put(tr.customerTok, "PUT", att+"?filename=bill.txt", "swapped", 403)
	put(tr.customerTok, "PUT", att+"?filename=csr.txt", "added", 201)
	put(tr.resellerTok, "POST", att+"/bill.txt", "corrected by the authority", 200)
	resp, raw := tr.f.do(t, "GET", att+"/bill.txt", tr.customerTok, "", map[string]string{"Accept": "text/plain"})
	if resp.StatusCode != 200 || string(raw) != "corrected by the authority" {
		t.Errorf("bill.txt: %d %q", resp.StatusCode, raw)
	}
}

// A client echoing its account as it read it (Monster UI's myaccount app
// saves ui_restrictions so) changes nothing of port_authority and is not
// refused for naming it.
func TestAccountEchoKeepsAuthorityFlag(t *testing.T) {
	tr := newTree43(t)
	d := tr.call(t, "GET", "/v2/accounts/"+tr.customer, tr.customerTok, "", 200)["data"].(map[string]any)
	d["ui_restrictions"] = map[string]any{"myaccount": map[string]any{"user": map[string]any{"show_tab": true}}}
	tr.call(t, "POST", "/v2/accounts/"+tr.customer, tr.customerTok, `{"data":`+mustJSON(t, d)+`}`, 200)
}
