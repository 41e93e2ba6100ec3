package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	htmlpkg "html"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/kazoo"
	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
	"github.com/portreqd/portreqd/pkg/loa"
	"github.com/portreqd/portreqd/pkg/notify"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/test/smtptest"
)

// world is a store, its service and a worker mailing both audiences
// through the mailbox.
type world struct {
	store  *kazoo.Store
	svc    *porting.Service
	mb     *smtptest.Mailbox
	now    time.Time
	master *porting.Account
	cust   *porting.Account
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{store: kazootest.Embedded(t), mb: smtptest.New(t), now: time.Now()}
	w.svc = porting.NewService(porting.Config{Store: w.store, CheckTemplate: notify.CheckTemplate})
	ctx := context.Background()
	var err error
	if w.master, _, err = w.svc.Bootstrap(ctx, "notify-master-key"); err != nil {
		t.Fatal(err)
	}
	f := porting.Fields{}
	f.Set("name", "Customer")
	if w.cust, err = w.svc.CreateAccount(ctx, w.master, w.master.ID, f); err != nil {
		t.Fatal(err)
	}
	// The master, port authority of everyone, keeps its port support
	// address where Kazoo does.
	body, _ := json.Marshal(map[string]any{"_id": "whitelabel", "port": map[string]any{"support_email": "ports@carrier.test"}})
	if err := w.store.RawPut(ctx, porting.AccountDB(w.master.ID), &porting.RawDoc{ID: "whitelabel", Body: body}, nil); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) worker(holder string) *notify.Worker {
	smtpConf := notify.SMTP{Addr: w.mb.Addr, TLS: "none", From: "Porting <porting@portreqd.test>"}
	var chans []notify.Channel
	for _, aud := range []string{notify.AudienceSubmitter, notify.AudienceAuthority} {
		chans = append(chans, &notify.Email{Audience: aud, SMTP: smtpConf, Store: w.store, Authority: w.svc.RequestAuthority,
			Effective: w.svc.EffectiveNotification, LOA: func(ctx context.Context, r *porting.Request) ([]byte, error) {
				d, err := w.svc.LOAOf(ctx, r)
				if err != nil {
					return nil, err
				}
				return loa.Render(loa.FromData(d))
			}})
	}
	return &notify.Worker{Store: w.store, Channels: chans, Holder: holder, Now: func() time.Time { return w.now }}
}

func (w *world) pass(t *testing.T, wk *notify.Worker) {
	t.Helper()
	if err := wk.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Every port event mails whom Kazoo mails, with the request's files on a
// submission and the reason on a rejection; a relay that refuses is
// retried and nothing is sent twice; two workers deliver each mail once.
func TestPortEventsMailed(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	wk := w.worker("replica-1")
	data := porting.Fields{}
	data.Set("name", "Move our main line")
	data.Set("numbers", map[string]any{"+13125550101": map[string]any{}})
	data.Set("notifications", map[string]any{"email": map[string]any{"send_to": "customer@example.test"}})
	r, err := w.svc.CreateRequest(ctx, w.master, w.cust.ID, data)
	if err != nil {
		t.Fatal(err)
	}
	pdf := "%PDF-1.4 the bill"
	if _, err := w.svc.PutAttachment(ctx, w.master, w.cust.ID, r.ID, porting.Upload{Name: "bill.pdf", ContentType: "application/pdf",
		Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(pdf)), nil }}, false); err != nil {
		t.Fatal(err)
	}
	w.pass(t, wk)
	if got := w.mb.Take(); len(got) != 0 {
		t.Fatalf("a draft mailed %d times", len(got))
	}

	if _, err := w.svc.Transition(ctx, w.master, w.cust.ID, r.ID, porting.Submitted, porting.TransitionInput{AcceptCharges: true}); err != nil {
		t.Fatal(err)
	}
	w.pass(t, wk)
	got := w.mb.Take()
	byTo := map[string]smtptest.Received{}
	for _, m := range got {
		byTo[strings.Join(m.To, ",")] = m
	}
	if len(got) != 2 || byTo["customer@example.test"].Msg == nil || byTo["ports@carrier.test"].Msg == nil {
		t.Fatalf("submission mailed %d: %v, want the submitter and the authority", len(got), keys(byTo))
	}
	for to, m := range byTo {
		text, html, atts := smtptest.Parts(t, m)
		if string(atts["bill.pdf"]) != pdf {
			t.Errorf("%s: attachments %v, want bill.pdf byte for byte", to, keys(atts))
		}
		if letter := atts["Move our main line-loa.pdf"]; !bytes.HasPrefix(letter, []byte("%PDF-")) || !bytes.Contains(letter[max(0, len(letter)-64):], []byte("%%EOF")) {
			t.Errorf("%s: the letter of authorization is not attached as a whole PDF (%d bytes; attachments %v)", to, len(letter), keys(atts))
		}
		if !strings.Contains(text, r.ID) || !strings.Contains(htmlpkg.UnescapeString(html), "+13125550101") || m.From != "porting@portreqd.test" {
			t.Errorf("%s: from %s, text %q, html %q", to, m.From, text, html)
		}
	}
	if s := byTo["ports@carrier.test"].Msg.Header.Get("Subject"); !strings.Contains(s, "New port request") {
		t.Errorf("the authority's subject %q is not port_request_admin's", s)
	}

	// A rejection carries its reason, escaped in HTML.
	reason := "Bill <name> does not match"
	rd := porting.Fields{}
	rd.Set("reason", reason)
	if _, err := w.svc.Transition(ctx, w.master, w.cust.ID, r.ID, porting.Rejected, porting.TransitionInput{Data: rd}); err != nil {
		t.Fatal(err)
	}
	w.pass(t, wk)
	got = w.mb.Take()
	if len(got) != 2 {
		t.Fatalf("rejection mailed %d times, want 2", len(got))
	}
	for _, m := range got {
		text, html, atts := smtptest.Parts(t, m)
		if !strings.Contains(text, reason) || !strings.Contains(html, "Bill &lt;name&gt; does not match") || len(atts) != 0 {
			t.Errorf("%v: rejection text %q html %q attachments %d", m.To, text, html, len(atts))
		}
	}

	// The relay refuses: the comment waits, is retried after its back-off,
	// and goes once.
	w.mb.SetDown(true)
	c := porting.Fields{}
	c.Set("comments", []any{map[string]any{"content": "Please send a new bill"}})
	if _, err := w.svc.AddComments(ctx, w.master, w.cust.ID, r.ID, c); err != nil {
		t.Fatal(err)
	}
	w.pass(t, wk)
	w.pass(t, wk) // not due yet: no second attempt
	w.mb.SetDown(false)
	w.pass(t, wk)
	if got := w.mb.Take(); len(got) != 0 {
		t.Fatalf("%d mails before the back-off ended", len(got))
	}
	w.now = w.now.Add(11 * time.Second) // the first back-off is 2.5-5 s
	w.pass(t, wk)
	got = w.mb.Take()
	if len(got) != 2 {
		t.Fatalf("after the relay came back: %d mails, want 2 (submitter and authority)", len(got))
	}
	for _, m := range got {
		if text, _, _ := smtptest.Parts(t, m); !strings.Contains(text, "Please send a new bill") {
			t.Errorf("comment mail %q", text)
		}
	}
	w.pass(t, wk)
	if got := w.mb.Take(); len(got) != 0 {
		t.Fatalf("delivered mails sent again: %d", len(got))
	}

	// Two workers (replicas) at once: each mail goes once.
	private := porting.Fields{}
	private.Set("comments", []any{map[string]any{"content": "internal note", "is_private": true}})
	if _, err := w.svc.AddComments(ctx, w.master, w.cust.ID, r.ID, private); err != nil {
		t.Fatal(err)
	}
	other := w.worker("replica-2")
	var wg sync.WaitGroup
	for _, x := range []*notify.Worker{wk, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				if err := x.Pass(ctx); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	got = w.mb.Take()
	if len(got) != 1 || !slices.Equal(got[0].To, []string{"ports@carrier.test"}) {
		var tos [][]string
		for _, m := range got {
			tos = append(tos, m.To)
		}
		t.Fatalf("a private comment with two workers: mails to %v, want one to the authority only", tos)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// An account's own mail template applies to its requests and its
// descendants', the nearest version up the tree winning; an account can
// turn one mail off; a template that does not render is refused when
// stored.
func TestAccountTemplatesInherited(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	wk := w.worker("replica-1")
	set := func(acct *porting.Account, id string, js string) error {
		_, err := w.svc.SetNotification(ctx, w.master, acct.ID, id, fields(t, js))
		return err
	}
	custom := `{"template":"{{define \"subject\"}}Custom: {{.Name}} refused{{end}}{{define \"text\"}}Sorry: {{.Reason}}{{end}}{{define \"html\"}}<p>Sorry: {{.Reason}}</p>{{end}}"}`
	if err := set(w.master, "port_rejected", custom); err != nil {
		t.Fatal(err)
	}
	if err := set(w.cust, "port_pending", `{"enabled":false}`); err != nil {
		t.Fatal(err)
	}
	if err := set(w.cust, "port_cancel", `{"template":"{{define \"subject\"}}{{.Nope}}{{end}}{{define \"text\"}}x{{end}}{{define \"html\"}}x{{end}}"}`); !porting.IsKind(err, porting.KindValidation) {
		t.Fatalf("a template naming an unknown field: %v, want a validation error", err)
	}
	if err := set(w.cust, "port_cancel", `{"template":"{{define \"subject\"}}x{{end}}"}`); !porting.IsKind(err, porting.KindValidation) {
		t.Fatalf("a template without text and html: %v, want a validation error", err)
	}
	data := porting.Fields{}
	data.Set("name", "templated")
	data.Set("numbers", map[string]any{"+13125550120": map[string]any{}})
	data.Set("notifications", map[string]any{"email": map[string]any{"send_to": "customer@example.test"}})
	r, err := w.svc.CreateRequest(ctx, w.master, w.cust.ID, data)
	if err != nil {
		t.Fatal(err)
	}
	step := func(to porting.State, reason string) []smtptest.Received {
		t.Helper()
		in := porting.TransitionInput{AcceptCharges: true}
		if reason != "" {
			in.Data = porting.Fields{}
			in.Data.Set("reason", reason)
		}
		if _, err := w.svc.Transition(ctx, w.master, w.cust.ID, r.ID, to, in); err != nil {
			t.Fatal(err)
		}
		w.pass(t, wk)
		return w.mb.Take()
	}
	if got := step(porting.Submitted, ""); len(got) != 2 {
		t.Fatalf("submission: %d mails", len(got))
	}
	if got := step(porting.Pending, ""); len(got) != 0 {
		t.Fatalf("port_pending is off for the customer, yet %d mails", len(got))
	}
	got := step(porting.Rejected, "wrong PIN")
	if len(got) != 2 {
		t.Fatalf("rejection: %d mails", len(got))
	}
	for _, m := range got {
		text, _, _ := smtptest.Parts(t, m)
		if m.Msg.Header.Get("Subject") != "Custom: templated refused" || text != "Sorry: wrong PIN" {
			t.Errorf("the master's template, inherited: subject %q text %q", m.Msg.Header.Get("Subject"), text)
		}
	}
	eff, err := w.svc.Notification(ctx, w.cust, w.cust.ID, "port_rejected")
	if err != nil || eff == nil || eff.AccountID != w.master.ID || !eff.Enabled {
		t.Errorf("the customer's port_rejected: %+v (%v), want the master's", eff, err)
	}
	if err := w.svc.ResetNotification(ctx, w.master, w.cust.ID, "port_pending"); err != nil {
		t.Fatal(err)
	}
	if eff, err := w.svc.Notification(ctx, w.cust, w.cust.ID, "port_pending"); err != nil || eff != nil {
		t.Errorf("after the reset: %+v (%v), want portreqd's own", eff, err)
	}
}

// The account's admin users (Kazoo's user documents) hear what the
// submitter hears, in the same mail; an authority without a support
// address is reached through its admin users, as teletype does.
func TestAccountAdminsMailed(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	user := func(account, id, priv, email string) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"_id": id, "pvt_type": "user", "priv_level": priv, "email": email,
			"first_name": "A", "last_name": id, "username": id})
		if err := w.store.RawPut(ctx, porting.AccountDB(account), &porting.RawDoc{ID: id, Body: body}, nil); err != nil {
			t.Fatal(err)
		}
	}
	user(w.cust.ID, "cust-admin", "admin", "admin@customer.test")
	user(w.cust.ID, "cust-clerk", "user", "clerk@customer.test")
	user(w.master.ID, "carrier-admin", "admin", "noc@carrier.test")
	// The authority's whitelabel loses its support address.
	if err := w.store.RawPut(ctx, porting.AccountDB(w.master.ID), &porting.RawDoc{ID: "whitelabel", Body: []byte(`{"_id":"whitelabel","port":{}}`)}, nil); err != nil {
		t.Fatal(err)
	}
	wk := w.worker("replica-1")

	submit := func(name string, notifications any) {
		t.Helper()
		data := porting.Fields{}
		data.Set("name", name)
		data.Set("numbers", map[string]any{"+1312555" + fmt.Sprintf("%04d", len(name)): map[string]any{}})
		if notifications != nil {
			data.Set("notifications", notifications)
		}
		r, err := w.svc.CreateRequest(ctx, w.master, w.cust.ID, data)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.Transition(ctx, w.master, w.cust.ID, r.ID, porting.Submitted, porting.TransitionInput{AcceptCharges: true}); err != nil {
			t.Fatal(err)
		}
		w.pass(t, wk)
	}
	recipients := func() []string {
		var out []string
		for _, m := range w.mb.Take() {
			out = append(out, strings.Join(m.To, ","))
		}
		slices.Sort(out)
		return out
	}

	submit("with a contact", map[string]any{"email": map[string]any{"send_to": []string{"customer@example.test", "admin@customer.test"}}})
	if got, want := recipients(), []string{"customer@example.test,admin@customer.test", "noc@carrier.test"}; !slices.Equal(got, want) {
		t.Errorf("submission with a contact mailed %q, want %q (the admin once)", got, want)
	}
	submit("without one", nil)
	if got, want := recipients(), []string{"admin@customer.test", "noc@carrier.test"}; !slices.Equal(got, want) {
		t.Errorf("submission without a contact mailed %q, want %q", got, want)
	}
}
