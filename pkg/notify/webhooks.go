package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/portreqd/portreqd/pkg/porting"
)

// WebhookStore is what webhook deliveries read (kazoo.Store).
type WebhookStore interface {
	GetRequest(ctx context.Context, id string) (*porting.Request, error)
	GetWebhook(ctx context.Context, id string) (*porting.Webhook, error)
	WebhooksOf(ctx context.Context, accounts []string) ([]*porting.Webhook, error)
}

// Webhooks is the channel posting events to the subscriptions of a
// request's account and its ancestors, signed as the Standard Webhooks
// specification says (webhook-id, webhook-timestamp, webhook-signature:
// v1 and the base64 HMAC-SHA256 of "id.timestamp.body").
type Webhooks struct {
	Store WebhookStore
	// AllowPrivate lets deliveries reach loopback, private and
	// link-local addresses, which are refused otherwise: a tenant's URL
	// must not reach the operator's own network.
	AllowPrivate bool
	Now          func() time.Time
	client       *http.Client
}

// webhookPrefix starts every webhook target: "webhook:<subscription id>".
const webhookPrefix = "webhook:"

func (h *Webhooks) Name() string { return webhookPrefix }

// Targets are the subscriptions of the request's account and its
// ancestors that take the event's type. A private comment goes only to
// the subscriptions of the request's port authority, who alone may read
// it.
func (h *Webhooks) Targets(ctx context.Context, e *porting.Event) ([]string, error) {
	r, err := h.Store.GetRequest(ctx, e.RequestID)
	if porting.IsKind(err, porting.KindNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	accounts := append(append([]string{}, r.Tree...), r.AccountID)
	subs, err := h.Store.WebhooksOf(ctx, accounts)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, w := range subs {
		if !w.Wants(e.Type) {
			continue
		}
		if e.PrivateComment() && w.AccountID != r.DocAuthority() {
			continue
		}
		out = append(out, w.Channel())
	}
	return out, nil
}

// Deliver posts d's event to its subscription.
func (h *Webhooks) Deliver(ctx context.Context, d *porting.Delivery) error {
	w, err := h.Store.GetWebhook(ctx, strings.TrimPrefix(d.Channel, webhookPrefix))
	if porting.IsKind(err, porting.KindNotFound) {
		return fmt.Errorf("%w: subscription deleted", ErrGone)
	}
	if err != nil {
		return err
	}
	body, err := h.payload(ctx, &d.Event)
	if err != nil {
		return err
	}
	status, err := h.post(ctx, w, d.Event.ID, body)
	if err != nil {
		return err
	}
	if status < 200 || status > 299 {
		return errorf("webhook %s answered %d", w.URL, status)
	}
	return nil
}

// Test posts a test event to subscription w now and returns the status
// the receiver answered.
func (h *Webhooks) Test(ctx context.Context, w *porting.Webhook) (int, error) {
	body, _ := json.Marshal(map[string]any{"type": "port_request.test", "timestamp": h.now().UTC().Format(time.RFC3339),
		"data": map[string]any{"webhook_id": w.ID, "account_id": w.AccountID}})
	return h.post(ctx, w, "test_"+porting.RandomID(), body)
}

// payload is the body of an event's delivery: its type, time and what
// happened, with the request's name and numbers as they are now.
func (h *Webhooks) payload(ctx context.Context, e *porting.Event) ([]byte, error) {
	data := map[string]any{"event_id": e.ID, "port_request_id": e.RequestID, "account_id": e.AccountID, "state": e.State}
	if e.Reason != "" {
		data["reason"] = e.Reason
	}
	if len(e.Comment) > 0 {
		data["comment"] = e.Comment
	}
	if r, err := h.Store.GetRequest(ctx, e.RequestID); err == nil {
		data["name"], data["numbers"] = r.Name(), r.Numbers()
	}
	return json.Marshal(map[string]any{
		"type":      "port_request." + string(e.Type),
		"timestamp": porting.FromGregorian(e.Timestamp).UTC().Format(time.RFC3339),
		"data":      data,
	})
}

func (h *Webhooks) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Webhooks) post(ctx context.Context, w *porting.Webhook, msgID string, body []byte) (int, error) {
	ts := h.now().Unix()
	sig, err := Sign(w.Secret, msgID, ts, body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return 0, errorf("webhook %s: %v", w.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "portreqd-webhooks")
	req.Header.Set("webhook-id", msgID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := h.httpClient().Do(req)
	if err != nil {
		return 0, errorf("webhook %s: %v", w.URL, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

// Sign is the Standard Webhooks signature of body sent as message msgID
// at ts (Unix seconds) with secret ("whsec_" and the base64 key).
func Sign(secret, msgID string, ts int64, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return "", errorf("webhook secret: %v", err)
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", msgID, ts)
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

func (h *Webhooks) httpClient() *http.Client {
	if h.client == nil {
		h.client = newHTTPClient(h.AllowPrivate)
	}
	return h.client
}

// newHTTPClient is the client of deliveries over HTTP: bounded in time,
// no redirects, and unless allowPrivate no loopback, private or
// link-local destination.
func newHTTPClient(allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second}
	if !allowPrivate {
		d.Control = refusePrivate
	}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext:         d.DialContext,
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConnsPerHost: 4,
		},
		// A redirect could lead anywhere; receivers answer where they are.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// refusePrivate refuses a connection to a loopback, private, link-local
// or unspecified address, checked on the address actually dialled (after
// DNS), so a name cannot smuggle one in.
func refusePrivate(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() {
		return errorf("webhook address %s is not public (--webhook-allow-private allows it)", host)
	}
	return nil
}
