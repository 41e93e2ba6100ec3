package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/portreqd/portreqd/pkg/porting"
)

// SMTP is how mail leaves: a relay, its TLS and its credentials.
type SMTP struct {
	Addr string // host:port
	// TLS is "starttls" (the default: upgrade, refuse a server that
	// cannot), "tls" (implicit TLS, port 465) or "none" (a local relay
	// or mail catcher only).
	TLS      string
	Username string
	Password string
	From     string // the From address, e.g. "Porting <porting@example.net>"
}

// Audiences of port mails, as Kazoo's teletype addresses them: the
// submitter (the request's notifications.email.send_to, with the
// account's admin users) and the port authority (its support address, else
// its admin users).
const (
	AudienceSubmitter = "submitter"
	AudienceAuthority = "authority"
)

// MailStore is what mails are made of (kazoo.Store).
type MailStore interface {
	GetRequest(ctx context.Context, id string) (*porting.Request, error)
	GetAttachment(ctx context.Context, id, name string) (*porting.AttachmentReader, error)
	// PortSupportEmail is account's port support address (Kazoo's
	// whitelabel port.support_email), "" when it has none.
	PortSupportEmail(ctx context.Context, accountID string) (string, error)
	// AccountAdminEmails are the addresses of account's admin users
	// (Kazoo's user documents with priv_level admin).
	AccountAdminEmails(ctx context.Context, accountID string) ([]string, error)
}

// Email is the channel mailing one audience.
type Email struct {
	Audience string
	SMTP     SMTP
	Store    MailStore
	// Authority finds a request's port authority (porting.Service).
	Authority func(ctx context.Context, r *porting.Request) (*porting.Account, error)
	// DefaultTo receives the authority's mails when it has neither a
	// support address nor admin users (Kazoo's system default_to).
	DefaultTo []string
	// Templates render the mails; nil: the built-in ones.
	Templates *Templates
	// Effective finds an account's own version of a template, inherited
	// down its tree (porting.Service.EffectiveNotification); nil: none.
	Effective func(ctx context.Context, accountID, id string) (*porting.NotificationTemplate, error)
	// MaxAttachBytes bounds the attachments one mail carries; 0: 10 MiB.
	MaxAttachBytes int64
	// LOA renders a request's Letter of Authorization, attached to
	// submission mails; nil: none.
	LOA func(ctx context.Context, r *porting.Request) ([]byte, error)
}

func (e *Email) Name() string { return "email:" + e.Audience }

// Targets is the channel itself when its audience hears of ev.
func (e *Email) Targets(_ context.Context, ev *porting.Event) ([]string, error) {
	if e.wants(ev) {
		return []string{e.Name()}, nil
	}
	return nil, nil
}

// wants follows Kazoo's templates: the submitter hears of every step and
// of public comments; the authority of submissions, rejections,
// cancellations and every comment.
func (e *Email) wants(ev *porting.Event) bool {
	switch e.Audience {
	case AudienceSubmitter:
		switch ev.Type {
		case porting.EventSubmitted, porting.EventPending, porting.EventScheduled, porting.EventCompleted,
			porting.EventRejected, porting.EventCanceled:
			return true
		case porting.EventComment:
			return !ev.PrivateComment()
		}
	case AudienceAuthority:
		switch ev.Type {
		case porting.EventSubmitted, porting.EventRejected, porting.EventCanceled, porting.EventComment:
			return true
		}
	}
	return false
}

// Deliver renders d's event for the audience and sends it.
func (e *Email) Deliver(ctx context.Context, d *porting.Delivery) error {
	r, err := e.Store.GetRequest(ctx, d.Event.RequestID)
	if err != nil {
		return err
	}
	var auth *porting.Account
	if e.Authority != nil {
		if auth, err = e.Authority(ctx, r); err != nil && e.Audience == AudienceAuthority {
			return err
		}
	}
	to, err := e.recipients(ctx, r, auth)
	if err != nil {
		return err
	}
	if len(to) == 0 {
		return ErrNoRecipients
	}
	tpl := e.Templates
	if tpl == nil {
		tpl = Builtin()
	}
	data := mailData(&d.Event, r)
	if auth != nil {
		data.Authority = auth.Name
	}
	name := TemplateName(d.Event.Type, e.Audience)
	if e.Effective != nil {
		own, err := e.Effective(ctx, r.AccountID, name)
		if err != nil {
			return err
		}
		if own != nil && !own.Enabled {
			return fmt.Errorf("%w: %s is disabled for this account", ErrNoRecipients, name)
		}
		if own != nil && own.Source != "" {
			if tpl, err = ParseTemplates(map[string]string{name: own.Source}); err != nil {
				return err // checked when stored; kept in the delivery's log
			}
		}
	}
	subject, text, html, err := tpl.Render(name, data)
	if err != nil {
		return err
	}
	var atts []*porting.AttachmentReader
	var attNames []string
	if d.Event.Type == porting.EventSubmitted { // Kazoo attaches the request's files to port_request mails
		atts, attNames, err = e.attachments(ctx, r)
		if err != nil {
			return err
		}
		defer func() {
			for _, a := range atts {
				a.Body.Close()
			}
		}()
		if e.LOA != nil {
			pdf, err := e.LOA(ctx, r)
			if err != nil {
				return err
			}
			name := r.LOAFileName()
			if !slices.Contains(attNames, name) {
				atts = append(atts, &porting.AttachmentReader{ContentType: "application/pdf", Length: int64(len(pdf)), Body: io.NopCloser(bytes.NewReader(pdf))})
				attNames = append(attNames, name)
			}
		}
	}
	msg, err := compose(e.SMTP.From, to, subject, text, html, d.ID, time.Now(), atts, attNames)
	if err != nil {
		return err
	}
	return e.SMTP.send(ctx, to, msg)
}

// recipients are the audience's addresses; auth is r's port authority.
func (e *Email) recipients(ctx context.Context, r *porting.Request, auth *porting.Account) ([]string, error) {
	switch e.Audience {
	case AudienceSubmitter:
		// One mail to the request's contacts and the account's admins,
		// as teletype merges its recipients.
		admins, err := e.Store.AccountAdminEmails(ctx, r.AccountID)
		if err != nil {
			return nil, err
		}
		to := sendTo(r)
		for _, a := range admins {
			if !slices.Contains(to, a) {
				to = append(to, a)
			}
		}
		return to, nil
	case AudienceAuthority:
		if auth == nil {
			return e.DefaultTo, nil
		}
		addr, err := e.Store.PortSupportEmail(ctx, auth.ID)
		if err != nil {
			return nil, err
		}
		if addr != "" {
			return []string{addr}, nil
		}
		admins, err := e.Store.AccountAdminEmails(ctx, auth.ID)
		if err != nil || len(admins) > 0 {
			return admins, err
		}
		return e.DefaultTo, nil
	}
	return nil, errorf("unknown audience %q", e.Audience)
}

// sendTo is the request's notifications.email.send_to: one address or a
// list, as Monster UI's wizard writes it.
func sendTo(r *porting.Request) []string {
	var n struct {
		Email struct {
			SendTo json.RawMessage `json:"send_to"`
		} `json:"email"`
	}
	if json.Unmarshal(r.Public["notifications"], &n) != nil {
		return nil
	}
	var list []string
	var one string
	if json.Unmarshal(n.Email.SendTo, &one) == nil {
		list = []string{one}
	} else {
		_ = json.Unmarshal(n.Email.SendTo, &list)
	}
	var out []string
	for _, a := range list {
		if addr, err := mail.ParseAddress(strings.TrimSpace(a)); err == nil && !slices.Contains(out, addr.Address) {
			out = append(out, addr.Address)
		}
	}
	return out
}

// attachments opens the request's files while their total stays under
// the bound.
func (e *Email) attachments(ctx context.Context, r *porting.Request) ([]*porting.AttachmentReader, []string, error) {
	limit := e.MaxAttachBytes
	if limit == 0 {
		limit = 10 << 20
	}
	names := make([]string, 0, len(r.Attachments))
	for n := range r.Attachments {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []*porting.AttachmentReader
	var kept []string
	var total int64
	for _, n := range names {
		if total+r.Attachments[n].Length > limit {
			continue
		}
		a, err := e.Store.GetAttachment(ctx, r.ID, n)
		if err != nil {
			for _, o := range out {
				o.Body.Close()
			}
			return nil, nil, err
		}
		total += r.Attachments[n].Length
		out = append(out, a)
		kept = append(kept, n)
	}
	return out, kept, nil
}

// compose writes a MIME message: text and HTML alternatives, then the
// attachments. Its Message-ID is the delivery's, so that a mail sent
// twice (a worker that died before recording it) is recognisably one.
func compose(from string, to []string, subject, text, html, id string, now time.Time, atts []*porting.AttachmentReader, names []string) ([]byte, error) {
	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", from)
	h("To", strings.Join(to, ", "))
	h("Subject", mime.QEncoding.Encode("utf-8", subject))
	h("Date", now.UTC().Format(time.RFC1123Z))
	h("Message-ID", "<"+strings.ReplaceAll(id, ":", ".")+"@portreqd>")
	h("MIME-Version", "1.0")
	mixed := multipart.NewWriter(&b)
	h("Content-Type", `multipart/mixed; boundary="`+mixed.Boundary()+`"`)
	b.WriteString("\r\n")

	bound := multipart.NewWriter(io.Discard).Boundary()
	part, err := mixed.CreatePart(textproto.MIMEHeader{"Content-Type": {`multipart/alternative; boundary="` + bound + `"`}})
	if err != nil {
		return nil, err
	}
	alt := multipart.NewWriter(part)
	if err := alt.SetBoundary(bound); err != nil {
		return nil, err
	}
	for _, p := range []struct{ ctype, body string }{{"text/plain; charset=utf-8", text}, {"text/html; charset=utf-8", html}} {
		w, err := alt.CreatePart(textproto.MIMEHeader{"Content-Type": {p.ctype}, "Content-Transfer-Encoding": {"base64"}})
		if err != nil {
			return nil, err
		}
		if err := writeBase64(w, strings.NewReader(p.body)); err != nil {
			return nil, err
		}
	}
	if err := alt.Close(); err != nil {
		return nil, err
	}
	for i, a := range atts {
		ctype := a.ContentType
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		w, err := mixed.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {ctype},
			"Content-Disposition":       {mime.FormatMediaType("attachment", map[string]string{"filename": names[i]})},
			"Content-Transfer-Encoding": {"base64"},
		})
		if err != nil {
			return nil, err
		}
		if err := writeBase64(w, a.Body); err != nil {
			return nil, err
		}
	}
	if err := mixed.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeBase64 encodes r in lines of 76 characters.
func writeBase64(w io.Writer, r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	enc := base64.StdEncoding.EncodeToString(raw)
	for len(enc) > 76 {
		if _, err := io.WriteString(w, enc[:76]+"\r\n"); err != nil {
			return err
		}
		enc = enc[76:]
	}
	_, err = io.WriteString(w, enc+"\r\n")
	return err
}

// send hands msg to the relay for every recipient.
func (s SMTP) send(ctx context.Context, to []string, msg []byte) error {
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return errorf("smtp address %q: %v", s.Addr, err)
	}
	d := net.Dialer{Timeout: 15 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return errorf("smtp %s: %v", s.Addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	var c *smtp.Client
	tlsConf := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	switch s.TLS {
	case "none":
		c = smtp.NewClient(conn)
	case "tls":
		c = smtp.NewClient(tls.Client(conn, tlsConf))
	default:
		if c, err = smtp.NewClientStartTLS(conn, tlsConf); err != nil {
			conn.Close()
			return errorf("smtp %s: STARTTLS: %v", s.Addr, err)
		}
	}
	defer c.Close()
	if s.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", s.Username, s.Password)); err != nil {
			return errorf("smtp %s: authentication: %v", s.Addr, err)
		}
	}
	from := s.From
	if a, err := mail.ParseAddress(from); err == nil {
		from = a.Address
	}
	if err := c.SendMail(from, to, bytes.NewReader(msg)); err != nil {
		return errorf("smtp %s: %v", s.Addr, err)
	}
	return c.Quit()
}
