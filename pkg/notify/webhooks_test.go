package notify_test

import (
	"context"
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
	"github.com/portreqd/portreqd/pkg/porting"
)

// The example of the Standard Webhooks specification
// (github.com/standard-webhooks/standard-webhooks, spec and libraries'
// tests): the signature of a known message.
func TestSignStandardWebhooksVector(t *testing.T) {
	got, err := notify.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

// receiver is a webhook endpoint that verifies every delivery's signature
// with the subscription's secret and answers failures while told to.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret string
	mu     sync.Mutex
	fail   int // answer 500 this many more times
	got    []delivered
}

type delivered struct {
	id   string
	body map[string]any
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{t: t}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
		sec, err := strconv.ParseInt(ts, 10, 64)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		want, serr := notify.Sign(rc.secret, id, sec, body)
		if err != nil || serr != nil || r.Header.Get("webhook-signature") != want || id == "" {
			t.Errorf("delivery %s: signature %q, want %q", id, r.Header.Get("webhook-signature"), want)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if rc.fail > 0 {
			rc.fail--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		rc.got = append(rc.got, delivered{id: id, body: m})
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) take() []delivered {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := rc.got
	rc.got = nil
	return out
}

// Webhooks: each subscription gets the events of its account's requests
// (and its descendants'), signed; a receiver failing is retried after its
// back-off; the delivery log keeps each attempt; a replay delivers again
// under the same webhook-id; another tenant's subscription hears nothing;
// a deleted subscription's deliveries are given up.
func TestWebhooksDelivered(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	rc := newReceiver(t)
	data := porting.Fields{}
	data.Set("url", rc.srv.URL+"/hook")
	data.Set("events", []string{"submitted", "rejected"})
	hook, err := w.svc.CreateWebhook(ctx, w.master, w.cust.ID, data)
	if err != nil {
		t.Fatal(err)
	}
	rc.secret = hook.Secret
	sf := porting.Fields{}
	sf.Set("name", "Stranger")
	stranger, err := w.svc.CreateAccount(ctx, w.master, w.master.ID, sf)
	if err != nil {
		t.Fatal(err)
	}
	other := newReceiver(t)
	od := porting.Fields{}
	od.Set("url", other.srv.URL)
	ohook, err := w.svc.CreateWebhook(ctx, w.master, stranger.ID, od)
	if err != nil {
		t.Fatal(err)
	}
	other.secret = ohook.Secret

	hooks := &notify.Webhooks{Store: w.store, AllowPrivate: true, Now: func() time.Time { return w.now }}
	wk := &notify.Worker{Store: w.store, Channels: []notify.Channel{hooks}, Holder: "replica-1", Now: func() time.Time { return w.now }}
	r, err := w.svc.CreateRequest(ctx, w.master, w.cust.ID, fields(t, `{"name":"hooked","numbers":{"+13125550140":{}}}`))
	if err != nil {
		t.Fatal(err)
	}
	rc.fail = 1
	if _, err := w.svc.Transition(ctx, w.master, w.cust.ID, r.ID, porting.Submitted, porting.TransitionInput{AcceptCharges: true}); err != nil {
		t.Fatal(err)
	}
	w.pass(t, wk)
	if got := rc.take(); len(got) != 0 {
		t.Fatalf("delivered %d while the receiver failed", len(got))
	}
	w.now = w.now.Add(11 * time.Second)
	w.pass(t, wk)
	got := rc.take()
	if len(got) != 1 || got[0].body["type"] != "port_request.submitted" {
		t.Fatalf("after the back-off: %+v, want the submission once", got)
	}
	d := got[0].body["data"].(map[string]any)
	if d["port_request_id"] != r.ID || d["state"] != "submitted" || d["name"] != "hooked" {
		t.Errorf("payload data %v", d)
	}
	log, err := w.svc.WebhookDeliveries(ctx, w.master, w.cust.ID, hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 1 || log[0].State != porting.DeliveryDone || len(log[0].Log) != 2 || log[0].Log[0].OK || !log[0].Log[1].OK ||
		!strings.Contains(log[0].Log[0].Detail, "500") {
		t.Fatalf("delivery log %+v, want one delivery: a 500, then delivered", log)
	}

	// Replay: delivered again, the same webhook-id.
	if _, err := w.svc.ReplayDelivery(ctx, w.master, w.cust.ID, hook.ID, log[0].ID); err != nil {
		t.Fatal(err)
	}
	w.pass(t, wk)
	if again := rc.take(); len(again) != 1 || again[0].id != got[0].id {
		t.Fatalf("replay delivered %+v, want once under webhook-id %s", again, got[0].id)
	}
	// A comment is not subscribed to; the stranger hears of nothing.
	c := porting.Fields{}
	c.Set("comments", []any{map[string]any{"content": "hello"}})
	if _, err := w.svc.AddComments(ctx, w.master, w.cust.ID, r.ID, c); err != nil {
		t.Fatal(err)
	}
	w.pass(t, wk)
	if n := len(rc.take()) + len(other.take()); n != 0 {
		t.Fatalf("%d deliveries nobody subscribed to", n)
	}
	// The subscription deleted: its pending delivery is given up.
	rc.fail = 100
	if _, err := w.svc.Transition(ctx, w.master, w.cust.ID, r.ID, porting.Rejected, porting.TransitionInput{}); err != nil {
		t.Fatal(err)
	}
	w.pass(t, wk)
	if _, err := w.svc.DeleteWebhook(ctx, w.master, w.cust.ID, hook.ID); err != nil {
		t.Fatal(err)
	}
	w.now = w.now.Add(11 * time.Second)
	w.pass(t, wk)
	ds, err := w.store.ChannelDeliveries(ctx, hook.Channel(), 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Event.Type == porting.EventRejected && d.State != porting.DeliveryFailed {
			t.Errorf("the deleted subscription's delivery is %s, want failed", d.State)
		}
	}
	// The operator sees it among the failures; a tenant sees nothing.
	st, err := w.svc.DeliveryStatus(ctx, w.master)
	if err != nil {
		t.Fatal(err)
	}
	if st.Failed != 1 || len(st.RecentFailures) != 1 || st.RecentFailures[0].Event.Type != porting.EventRejected || st.Pending != 0 || st.Delivered24h != 1 {
		t.Errorf("status %+v, want one failure (the rejection), nothing pending, one delivered", st)
	}
	if _, err := w.svc.DeliveryStatus(ctx, w.cust); !porting.IsKind(err, porting.KindForbidden) {
		t.Errorf("a tenant's delivery status: %v, want forbidden", err)
	}
}

// A subscription's URL may not reach the operator's own network: without
// AllowPrivate a loopback receiver is refused at the dial.
func TestWebhookPrivateAddressRefused(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	rc := newReceiver(t)
	data := porting.Fields{}
	data.Set("url", rc.srv.URL)
	hook, err := w.svc.CreateWebhook(ctx, w.master, w.cust.ID, data)
	if err != nil {
		t.Fatal(err)
	}
	hooks := &notify.Webhooks{Store: w.store}
	if _, err := hooks.Test(ctx, hook); err == nil || !strings.Contains(err.Error(), "not public") {
		t.Fatalf("a test delivery to %s: %v, want refused as not public", rc.srv.URL, err)
	}
	if got := rc.take(); len(got) != 0 {
		t.Fatal("the loopback receiver was reached")
	}
}

func fields(t *testing.T, js string) porting.Fields {
	t.Helper()
	var f porting.Fields
	if err := json.Unmarshal([]byte(js), &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// Kazoo's crawler: a submission of an account naming
// submitted_port_requests_url is posted there with its attachments, and
// once every post answered 200 the request is sent.
func TestSubmittedURLMarksSent(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	var mu sync.Mutex
	posted := map[string]string{}
	status := http.StatusServiceUnavailable
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if status == http.StatusOK {
			posted[r.URL.Path] = r.Header.Get("Content-Type") + " " + string(body)
		}
		rw.WriteHeader(status)
	}))
	defer srv.Close()
	f := porting.Fields{}
	f.Set("submitted_port_requests_url", srv.URL+"/carrier/")
	if _, err := w.svc.UpdateAccount(ctx, w.master, w.cust.ID, f); err != nil {
		t.Fatal(err)
	}
	ch := &notify.SubmittedURL{Store: w.store, Account: w.svc.Account, MarkSent: w.svc.MarkSent, AllowPrivate: true}
	wk := &notify.Worker{Store: w.store, Channels: []notify.Channel{ch}, Holder: "crawler", Now: func() time.Time { return w.now }}
	r, err := w.svc.CreateRequest(ctx, w.master, w.cust.ID, fields(t, `{"name":"crawled","numbers":{"+13125550130":{}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.PutAttachment(ctx, w.master, w.cust.ID, r.ID, porting.Upload{Name: "loa.pdf", ContentType: "application/pdf",
		Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("%PDF-1.4 loa")), nil }}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Transition(ctx, w.master, w.cust.ID, r.ID, porting.Submitted, porting.TransitionInput{AcceptCharges: true}); err != nil {
		t.Fatal(err)
	}
	w.pass(t, wk)
	if got, _ := w.store.GetRequest(ctx, r.ID); got.Sent {
		t.Fatal("sent while the carrier's endpoint answered 503")
	}
	mu.Lock()
	status = http.StatusOK
	mu.Unlock()
	w.now = w.now.Add(11 * time.Second)
	w.pass(t, wk)
	got, err := w.store.GetRequest(ctx, r.ID)
	if err != nil || !got.Sent {
		t.Fatalf("after the endpoint answered 200: sent %v (%v)", got.Sent, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if doc := posted["/carrier/"+r.ID]; !strings.HasPrefix(doc, "application/json ") || !strings.Contains(doc, `"name":"crawled"`) {
		t.Errorf("the request posted as %q", doc)
	}
	if att := posted["/carrier/"+r.ID+"/loa.pdf"]; att != "application/pdf %PDF-1.4 loa" {
		t.Errorf("the attachment posted as %q", att)
	}
}
