package porting

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func fields(t *testing.T, s string) Fields {
	t.Helper()
	var f Fields
	if err := json.Unmarshal([]byte(s), &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestValidateRequest(t *testing.T) {
	cases := []struct {
		name  string
		body  string
		field string // "" = valid
		rule  string
	}{
		{"minimal", `{"name":"n","numbers":{"+12025559000":{}}}`, "", ""},
		{"read-only echoed", `{"name":"n","numbers":{"2025559000":{}},"id":"x","port_state":"completed","uploads":{},"_read_only":{},"pvt_type":"x"}`, "", ""},
		{"no name", `{"numbers":{"+12025559000":{}}}`, "name", "required"},
		{"empty name", `{"name":" ","numbers":{"+12025559000":{}}}`, "name", "minLength"},
		{"long name", `{"name":"` + strings.Repeat("x", 129) + `","numbers":{"+12025559000":{}}}`, "name", "maxLength"},
		{"name type", `{"name":1,"numbers":{"+12025559000":{}}}`, "name", "type"},
		{"no numbers", `{"name":"n"}`, "numbers", "required"},
		{"numbers empty", `{"name":"n","numbers":{}}`, "numbers", "minProperties"},
		{"numbers array", `{"name":"n","numbers":["+12025559000"]}`, "numbers", "type"},
		{"not a number", `{"name":"n","numbers":{"hello":{}}}`, "numbers", "pattern"},
		{"duplicate", `{"name":"n","numbers":{"2025559000":{},"+12025559000":{}}}`, "numbers", "uniqueItems"},
		{"number value", `{"name":"n","numbers":{"+12025559000":"x"}}`, "numbers.+12025559000", "type"},
		{"bill type", `{"name":"n","numbers":{"+12025559000":{}},"bill":"x"}`, "bill", "type"},
		{"bill member", `{"name":"n","numbers":{"+12025559000":{}},"bill":{"name":5}}`, "bill.name", "type"},
		{"transfer_date", `{"name":"n","numbers":{"+12025559000":{}},"transfer_date":"soon"}`, "transfer_date", "type"},
		{"send_to list", `{"name":"n","numbers":{"+12025559000":{}},"notifications":{"email":{"send_to":["a@b.c"]}}}`, "", ""},
		{"send_to type", `{"name":"n","numbers":{"+12025559000":{}},"notifications":{"email":{"send_to":5}}}`, "notifications.email.send_to", "type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in, err := validateRequest(fields(t, c.body))
			if c.field == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				for k := range in.public {
					if requestReadOnly[k] || strings.HasPrefix(k, "pvt_") || strings.HasPrefix(k, "_") {
						t.Errorf("kept read-only member %s", k)
					}
				}
				return
			}
			var e *Error
			if err == nil || KindOf(err) != KindValidation {
				t.Fatalf("want validation error, got %v", err)
			}
			e = err.(*Error)
			data := e.Data.(map[string]any)
			rules, ok := data[c.field].(map[string]any)
			if !ok {
				t.Fatalf("error not on %s: %v", c.field, data)
			}
			if _, ok := rules[c.rule]; !ok {
				t.Fatalf("rule %s missing: %v", c.rule, rules)
			}
		})
	}
}

func TestValidateNormalizesKeys(t *testing.T) {
	in, err := validateRequest(fields(t, `{"name":"n","numbers":{"202-555-9000":{"state":"NY"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(`{"+12025559000":{"state":"NY"}}`, string(in.public["numbers"])); diff != "" {
		t.Error(diff)
	}
	if in.asSent["+12025559000"] != "202-555-9000" {
		t.Errorf("asSent %v", in.asSent)
	}
}

func TestLooksLikePDF(t *testing.T) {
	cases := map[string]bool{
		"%PDF-1.7\n": true,
		"data:application/pdf;base64,JVBERi0xLjQK": true,
		"JVBERi0xLjQK": true,
		"\"data:application/pdf;base64,JVBERi0xLjQK": true,
		"hello world":                                       false,
		"data:application/pdf,%PDF-":                        false,
		"data:text/plain;base64,aGVsbG8gd29ybGQ=":           false,
		"data:text/html;base64,JVBERi0xLjQK":                false, // a page, whatever its bytes
		"data:application/x-pdf;base64,JVBERi0xLjQK":        true,
		"data:application/octet-stream;base64,JVBERi0xLjQK": true,
		"data:;base64,JVBERi0xLjQK":                         true,
	}
	for in, want := range cases {
		if got := LooksLikePDF([]byte(in)); got != want {
			t.Errorf("LooksLikePDF(%q) = %v", in, got)
		}
	}
}

func TestAttachmentName(t *testing.T) {
	cases := []struct{ name, ct, want string }{
		{"file", "application/pdf", "file.pdf"},
		{"file.PDF", "application/x-pdf", "file.PDF"},
		{"notes.txt", "text/plain", "notes.txt"},
		{"", "application/pdf", "uploaded_file_63000000000.pdf"},
		{" spaced name\u2029", "text/plain", "spaced name"},
	}
	for _, c := range cases {
		got, err := AttachmentName(c.name, c.ct, 63000000000)
		if err != nil || got != c.want {
			t.Errorf("AttachmentName(%q, %q) = %q, %v", c.name, c.ct, got, err)
		}
	}
	for _, bad := range []string{"_design", "a/b", "x\ny", "x\ty", ".", "..", "invoice\u202Efdp.exe", "a\u2066b", "c\x7fd", "bad\xffname", "surrogate\xed\xa0\x80"} {
		if _, err := AttachmentName(bad, "text/plain", 1); KindOf(err) != KindValidation {
			t.Errorf("AttachmentName(%q) accepted", bad)
		}
	}
}

func TestRequestDocumentRoundTrip(t *testing.T) {
	raw := `{"_id":"84e0a824c6b74fe1e3ec48962a600ef2","_rev":"3-abc","name":"n","numbers":{"+12025559000":{}},"extra":1,
	"pvt_type":"port_request","pvt_port_state":"pending","pvt_account_id":"a","pvt_tree":["m","a"],"pvt_created":1,"pvt_modified":2,
	"pvt_unknown":"kept","_attachments":{"f.pdf":{"content_type":"application/pdf","length":3,"digest":"md5-x","revpos":2,"stub":true}}}`
	var r Request
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		t.Fatal(err)
	}
	if r.State != Pending || r.AccountID != "a" || r.Public.String("name") != "n" || string(r.Private["pvt_unknown"]) != `"kept"` {
		t.Fatalf("decoded %+v", r)
	}
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	_ = json.Unmarshal(out, &back)
	for _, k := range []string{"extra", "pvt_unknown", "_attachments", "pvt_transitions", "pvt_vsn"} {
		if _, ok := back[k]; !ok {
			t.Errorf("member %s lost: %s", k, out)
		}
	}
	v := r.View()
	for k := range v {
		if strings.HasPrefix(k, "pvt_") || k == "_rev" || k == "_attachments" {
			t.Errorf("view leaks %s", k)
		}
	}
}
