// Package smtptest is a real SMTP server (github.com/emersion/go-smtp) in
// the test process: it keeps every message it accepts, parsed, and can
// refuse every message for a while, as a relay that is down does.
package smtptest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// Mailbox is the server. Addr is where it listens.
type Mailbox struct {
	Addr string
	mu   sync.Mutex
	got  []Received
	down bool
}

// Received is one message accepted: its envelope and its parsed form.
type Received struct {
	From string
	To   []string
	Msg  *mail.Message
	Raw  []byte
}

// New starts a Mailbox, stopped when the test ends.
func New(t testing.TB) *Mailbox {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mb := &Mailbox{Addr: ln.Addr().String()}
	s := smtp.NewServer(mb)
	s.Domain = "mail.test"
	s.AllowInsecureAuth = true
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(func() { _ = s.Close() })
	return mb
}

// NewSession is the go-smtp backend's.
func (mb *Mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{mb: mb}, nil }

type session struct {
	mb   *Mailbox
	from string
	to   []string
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.mb.mu.Lock()
	defer s.mb.mu.Unlock()
	if s.mb.down {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	s.mb.got = append(s.mb.got, Received{From: s.from, To: s.to, Msg: msg, Raw: raw})
	return nil
}

// SetDown makes the server refuse every message (451) or accept again.
func (mb *Mailbox) SetDown(down bool) {
	mb.mu.Lock()
	mb.down = down
	mb.mu.Unlock()
}

// Take returns the messages accepted since the last Take.
func (mb *Mailbox) Take() []Received {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	out := mb.got
	mb.got = nil
	return out
}

// Parts reads a message's text, HTML and attachments (name → bytes).
func Parts(t testing.TB, m Received) (text, html string, atts map[string][]byte) {
	t.Helper()
	atts = map[string][]byte{}
	var walk func(ctype string, body io.Reader)
	walk = func(ctype string, body io.Reader) {
		mt, params, err := mime.ParseMediaType(ctype)
		if err != nil {
			t.Fatalf("content type %q: %v", ctype, err)
		}
		if !strings.HasPrefix(mt, "multipart/") {
			t.Fatalf("walk of %s", mt)
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			pt := p.Header.Get("Content-Type")
			if strings.HasPrefix(pt, "multipart/") {
				walk(pt, p)
				continue
			}
			b, err := io.ReadAll(p) // multipart decodes quoted-printable only; base64 by hand
			if err != nil {
				t.Fatal(err)
			}
			if p.Header.Get("Content-Transfer-Encoding") == "base64" {
				b = decodeBase64(t, b)
			}
			switch {
			case p.FileName() != "":
				atts[p.FileName()] = b
			case strings.HasPrefix(pt, "text/plain"):
				text = string(b)
			case strings.HasPrefix(pt, "text/html"):
				html = string(b)
			}
		}
	}
	walk(m.Msg.Header.Get("Content-Type"), m.Msg.Body)
	return text, html, atts
}

func decodeBase64(t testing.TB, b []byte) []byte {
	t.Helper()
	out, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b)), ""))
	if err != nil {
		t.Fatal(err)
	}
	return out
}
