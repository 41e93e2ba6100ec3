package notify

import (
	"bytes"
	"embed"
	"encoding/json"
	htmltemplate "html/template"
	"path"
	"strings"
	"sync"
	texttemplate "text/template"

	"github.com/portreqd/portreqd/pkg/porting"
)

// The templates are Kazoo's (teletype's ids): templates/<id>.tmpl defines
// "subject" and "text" (text/template) and "html" (html/template, which
// escapes what the request holds).
//
//go:embed templates/*.tmpl
var builtinFiles embed.FS

// TemplateName is the Kazoo template that reports event type t to
// audience: a submission is port_request to the submitter and
// port_request_admin to the authority; every other event has one template
// for both.
func TemplateName(t porting.EventType, audience string) string {
	switch t {
	case porting.EventSubmitted:
		if audience == AudienceAuthority {
			return "port_request_admin"
		}
		return "port_request"
	case porting.EventPending:
		return "port_pending"
	case porting.EventScheduled:
		return "port_scheduled"
	case porting.EventCompleted:
		return "ported"
	case porting.EventRejected:
		return "port_rejected"
	case porting.EventCanceled:
		return "port_cancel"
	case porting.EventComment:
		return "port_comment"
	}
	return ""
}

// Templates render mails by template name.
type Templates struct {
	text map[string]*texttemplate.Template
	html map[string]*htmltemplate.Template
}

var funcs = map[string]any{"join": strings.Join}

// ParseTemplates parses one template per name from its source (the three
// definitions).
func ParseTemplates(sources map[string]string) (*Templates, error) {
	t := &Templates{text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}}
	for name, src := range sources {
		tt, err := texttemplate.New(name).Funcs(funcs).Parse(src)
		if err != nil {
			return nil, errorf("template %s: %v", name, err)
		}
		ht, err := htmltemplate.New(name).Funcs(funcs).Parse(src)
		if err != nil {
			return nil, errorf("template %s: %v", name, err)
		}
		for _, def := range []string{"subject", "text"} {
			if tt.Lookup(def) == nil {
				return nil, errorf("template %s defines no %q", name, def)
			}
		}
		if ht.Lookup("html") == nil {
			return nil, errorf("template %s defines no \"html\"", name)
		}
		t.text[name], t.html[name] = tt, ht
	}
	return t, nil
}

var builtin = sync.OnceValue(func() *Templates {
	entries, err := builtinFiles.ReadDir("templates")
	if err != nil {
		panic(err)
	}
	src := map[string]string{}
	for _, e := range entries {
		b, err := builtinFiles.ReadFile(path.Join("templates", e.Name()))
		if err != nil {
			panic(err)
		}
		src[strings.TrimSuffix(e.Name(), ".tmpl")] = string(b)
	}
	t, err := ParseTemplates(src)
	if err != nil {
		panic(err) // the embedded files are tested
	}
	return t
})

// Builtin is portreqd's own templates.
func Builtin() *Templates { return builtin() }

// Render makes the subject, text and HTML of template name for data.
func (t *Templates) Render(name string, data *MailData) (subject, text, html string, err error) {
	tt, ht := t.text[name], t.html[name]
	if tt == nil || ht == nil {
		return "", "", "", errorf("no template %q", name)
	}
	var b bytes.Buffer
	if err := tt.ExecuteTemplate(&b, "subject", data); err != nil {
		return "", "", "", errorf("template %s: %v", name, err)
	}
	subject = strings.Join(strings.Fields(b.String()), " ")
	b.Reset()
	if err := tt.ExecuteTemplate(&b, "text", data); err != nil {
		return "", "", "", errorf("template %s: %v", name, err)
	}
	text = b.String()
	b.Reset()
	if err := ht.ExecuteTemplate(&b, "html", data); err != nil {
		return "", "", "", errorf("template %s: %v", name, err)
	}
	return subject, text, b.String(), nil
}

// MailData is what a template may use.
type MailData struct {
	Event          string // the event type
	RequestID      string
	Name           string
	State          string // the request's state after the event
	Numbers        []string
	Account        string // the request's account's name
	Authority      string // the port authority's name
	Reason         string // a rejection's or cancellation's reason
	Comment        string // a comment's text
	CommentAuthor  string
	PrivateComment bool
	ScheduledDate  string // YYYY-MM-DD, when scheduled
}

func mailData(e *porting.Event, r *porting.Request) *MailData {
	d := &MailData{Event: string(e.Type), RequestID: r.ID, Name: r.Name(), State: string(e.State), Numbers: r.Numbers(),
		Account: r.Private.String("pvt_account_name"), Reason: e.Reason}
	if d.Account == "" {
		d.Account = r.AccountID
	}
	if len(e.Comment) > 0 {
		var c struct {
			Content string `json:"content"`
			Author  string `json:"author"`
		}
		_ = json.Unmarshal(e.Comment, &c)
		d.Comment, d.CommentAuthor, d.PrivateComment = c.Content, c.Author, e.PrivateComment()
	}
	if ts := int64(r.Public.Number("scheduled_date")); ts > 0 {
		d.ScheduledDate = porting.FromGregorian(ts).Format("2006-01-02")
	}
	return d
}

// CheckTemplate parses an account's version of template id and renders it
// once with sample data, so that a template stored is one that mails.
func CheckTemplate(id, source string) error {
	t, err := ParseTemplates(map[string]string{id: source})
	if err != nil {
		return err
	}
	sample := &MailData{Event: "submitted", RequestID: "0123456789abcdef0123456789abcdef", Name: "Sample", State: "submitted",
		Numbers: []string{"+13125550100"}, Account: "Sample Account", Authority: "Sample Authority", Reason: "sample reason",
		Comment: "sample comment", CommentAuthor: "Sample", ScheduledDate: "2026-12-31"}
	_, _, _, err = t.Render(id, sample)
	return err
}
