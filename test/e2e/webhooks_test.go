package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/notify"
)

// TestWebhooksAPI drives an account's webhook subscriptions over HTTP:
// create (the secret shown once), list and get (no secret), a test
// delivery, the events of a submission signed with that secret, the
// delivery log, a replay, another tenant kept out, delete.
func TestWebhooksAPI(t *testing.T) { forEachStore(t, testWebhooksAPI) }

func testWebhooksAPI(t *testing.T, e *env) {
	var mu sync.Mutex
	var secret string
	type hit struct{ id, typ string }
	var hits []hit
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
		mu.Lock()
		defer mu.Unlock()
		want, err := notify.Sign(secret, r.Header.Get("webhook-id"), ts, body)
		if err != nil || r.Header.Get("webhook-signature") != want {
			t.Errorf("bad signature %q (want %q, %v)", r.Header.Get("webhook-signature"), want, err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var m struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(body, &m)
		hits = append(hits, hit{r.Header.Get("webhook-id"), m.Type})
	}))
	defer recv.Close()
	waitHits := func(n int) []hit {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			mu.Lock()
			got := append([]hit(nil), hits...)
			mu.Unlock()
			if len(got) >= n || time.Now().After(deadline) {
				return got
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	s := e.start(t, "--webhook-allow-private")
	mtok, master := s.login(t, e.apiKey)
	tok, acct := s.customer(t, mtok, master, "Hook Customer")
	otok, other := s.customer(t, mtok, master, "Hook Stranger")
	hooks := "/v2/accounts/" + acct + "/port_webhooks"

	s.do(t, "PUT", hooks, tok, map[string]any{"data": map[string]any{"url": "ftp://example.test/x"}}).expect(t, 400)
	s.do(t, "PUT", hooks, tok, map[string]any{"data": map[string]any{"url": recv.URL, "events": []string{"exploded"}}}).expect(t, 400)
	made := s.do(t, "PUT", hooks, tok, map[string]any{"data": map[string]any{"url": recv.URL, "events": []string{"submitted"}, "description": "ops"}}).expect(t, 201).data()
	id, _ := made["id"].(string)
	mu.Lock()
	secret, _ = made["secret"].(string)
	mu.Unlock()
	if id == "" || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("created %v", made)
	}
	list := s.do(t, "GET", hooks, tok, nil).expect(t, 200).list()
	if len(list) != 1 || list[0].(map[string]any)["secret"] != nil {
		t.Fatalf("list %v: want one subscription without its secret", list)
	}
	if got := s.do(t, "GET", hooks+"/"+id, tok, nil).expect(t, 200).data(); got["url"] != recv.URL || got["secret"] != nil {
		t.Errorf("get %v", got)
	}
	// Another tenant: not through its own account, not through ours.
	s.do(t, "GET", "/v2/accounts/"+other+"/port_webhooks/"+id, otok, nil).expect(t, 404)
	s.do(t, "GET", hooks+"/"+id, otok, nil).expect(t, 403)

	if got := s.do(t, "POST", hooks+"/"+id+"/test", tok, nil).expect(t, 200).data(); got["delivered"] != true {
		t.Fatalf("test delivery %v", got)
	}
	if got := waitHits(1); len(got) != 1 || got[0].typ != "port_request.test" {
		t.Fatalf("after the test: %v", got)
	}

	rid := s.createRequest(t, tok, acct, "hooked", "+13125550150")
	s.do(t, "PATCH", "/v2/accounts/"+acct+"/port_requests/"+rid+"/submitted", tok, nil).expect(t, 200)
	got := waitHits(2)
	if len(got) != 2 || got[1].typ != "port_request.submitted" {
		t.Fatalf("after the submission: %v", got)
	}
	var log []any
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) { // the outcome is recorded just after the receiver answers
		log = s.do(t, "GET", hooks+"/"+id+"/deliveries", tok, nil).expect(t, 200).list()
		if len(log) == 1 && log[0].(map[string]any)["state"] == "delivered" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	d, _ := log[0].(map[string]any)
	if len(log) != 1 || d["state"] != "delivered" || d["port_request_id"] != rid {
		t.Fatalf("delivery log %v", log)
	}
	s.do(t, "POST", hooks+"/"+id+"/deliveries/"+d["id"].(string)+"/replay", tok, nil).expect(t, 200)
	if got := waitHits(3); len(got) != 3 || got[2].id != got[1].id {
		t.Fatalf("after the replay: %v, want the submission again under its webhook-id", got)
	}

	s.do(t, "DELETE", hooks+"/"+id, tok, nil).expect(t, 200)
	if list := s.do(t, "GET", hooks, tok, nil).expect(t, 200).list(); len(list) != 0 {
		t.Errorf("after delete: %v", list)
	}

	// The account's mail templates over HTTP.
	notes := "/v2/accounts/" + acct + "/port_notifications"
	if list := s.do(t, "GET", notes, tok, nil).expect(t, 200).list(); len(list) != 8 {
		t.Errorf("templates: %v, want Kazoo's eight port templates", list)
	}
	s.do(t, "GET", notes+"/voicemail_to_email", tok, nil).expect(t, 404)
	s.do(t, "POST", notes+"/port_rejected", tok, map[string]any{"data": map[string]any{"template": "{{define \"subject\"}}{{.Missing}}{{end}}"}}).expect(t, 400)
	src := `{{define "subject"}}Refused: {{.Name}}{{end}}{{define "text"}}{{.Reason}}{{end}}{{define "html"}}<p>{{.Reason}}</p>{{end}}`
	if got := s.do(t, "POST", notes+"/port_rejected", tok, map[string]any{"data": map[string]any{"template": src}}).expect(t, 200).data(); got["template_from"] != acct || got["template"] != src {
		t.Errorf("stored template %v", got)
	}
	s.do(t, "POST", "/v2/accounts/"+other+"/port_notifications/port_rejected", tok, map[string]any{"data": map[string]any{"enabled": false}}).expect(t, 403)
	if got := s.do(t, "DELETE", notes+"/port_rejected", tok, nil).expect(t, 200).data(); got["template_from"] != "portreqd" {
		t.Errorf("after reset %v", got)
	}
}
