package porting

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// Fuzz targets for what clients send: .ci/run runs each for a bounded time
// (go test -run '^$' -fuzz '^FuzzX$' -fuzztime 10s ./pkg/porting).

// FuzzRequestBody: any JSON object a client sends as a port request is
// refused with a validation error or accepted as a request that encodes to
// JSON and reads back the same.
func FuzzRequestBody(f *testing.F) {
	for _, seed := range []string{
		`{"name":"n","numbers":{"+12025550100":{}}}`,
		`{"numbers":{"2025550100":{"used_by":"callflow"}},"bill":{"name":"x"},"comments":[{"content":"c"}]}`,
		`{"numbers":[],"transfer_date":"soon"}`,
		`{"name":1,"numbers":{"":{}}}`,
		`{"numbers":{"+1 (202) 555-0100":null},"scheduled_date":63900000000}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var data Fields
		if json.Unmarshal([]byte(body), &data) != nil || data == nil {
			return
		}
		in, err := validateRequest(data)
		if err != nil {
			if KindOf(err) != KindValidation && KindOf(err) != KindInvalidJSON {
				t.Fatalf("validateRequest(%s): %v (kind %d), want a validation error", body, err, KindOf(err))
			}
			return
		}
		r := &Request{ID: "0123456789abcdef0123456789abcdef", Public: in.public, State: Unconfirmed, AccountID: "a", Private: Fields{}}
		raw, err := json.Marshal(r)
		if err != nil || !utf8.Valid(raw) {
			t.Fatalf("encode %s: %v", body, err)
		}
		back, err := DecodeRequest(raw)
		if err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
		if got, want := strings.Join(back.Numbers(), ","), strings.Join(r.Numbers(), ","); got != want {
			t.Fatalf("numbers %q read back as %q", want, got)
		}
		for _, n := range r.Numbers() {
			if e, ok := NormalizeNumber(n); !ok || e != n {
				t.Fatalf("stored number %q is not E.164 (%q, %v)", n, e, ok)
			}
		}
	})
}

// FuzzNormalizeNumber: a normalized number is E.164 and normalizes to
// itself.
func FuzzNormalizeNumber(f *testing.F) {
	for _, seed := range []string{"+12025550100", "2025550100", "(202) 555-0100", "%2B12025550100", "+442079460000", "", "+", "1"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		e, ok := NormalizeNumber(raw)
		if !ok {
			return
		}
		if !strings.HasPrefix(e, "+") || len(e) < 3 || strings.Trim(e[1:], "0123456789") != "" {
			t.Fatalf("NormalizeNumber(%q) = %q, not E.164", raw, e)
		}
		if again, ok := NormalizeNumber(e); !ok || again != e {
			t.Fatalf("NormalizeNumber(%q) = %q, but %q normalizes to %q, %v", raw, e, e, again, ok)
		}
	})
}

// FuzzStartKey: a start_key is a cursor or a validation error, never a
// panic; a next_start_key we write reads back as the same cursor.
func FuzzStartKey(f *testing.F) {
	for _, seed := range []string{"63900000000", `["a","completed",63900000000]`, `["a","completed",63900000000,"0123456789abcdef0123456789abcdef"]`,
		"63900000000:0123456789abcdef0123456789abcdef", "", ":", "[]", `[1,2,"x"]`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := parseStartKey(raw)
		if err != nil {
			if KindOf(err) != KindValidation {
				t.Fatalf("parseStartKey(%q): %v, want a validation error", raw, err)
			}
			return
		}
		if c == nil || c.ID == "" {
			return
		}
		r := &Request{ID: c.ID, Modified: c.Modified}
		back, err := parseStartKey(NextStartKey(r))
		if err != nil || *back != *c {
			t.Fatalf("next_start_key of %+v reads back as %+v, %v", c, back, err)
		}
	})
}

// FuzzAttachmentName: an accepted name is UTF-8, addressable in a URL path
// segment (no slash), free of control and bidirectional-override
// characters, and not . or ..; a PDF's ends in .pdf.
func FuzzAttachmentName(f *testing.F) {
	for _, seed := range []string{"bill.pdf", "", ".", "..", "a/b", "_design", "x\u202eyz", "bad\xff", " spaced ", strings.Repeat("n", 300)} {
		f.Add(seed, "application/pdf")
		f.Add(seed, "text/plain")
	}
	f.Fuzz(func(t *testing.T, name, ct string) {
		got, err := AttachmentName(name, ct, 63900000000)
		if err != nil {
			if KindOf(err) != KindValidation {
				t.Fatalf("AttachmentName(%q): %v", name, err)
			}
			return
		}
		if !utf8.ValidString(got) || got == "" || got == "." || got == ".." || strings.ContainsAny(got, "/\\") ||
			strings.IndexFunc(got, unsafeNameRune) >= 0 || strings.HasPrefix(got, "_") || len(got) > 255+len(".pdf") {
			t.Fatalf("AttachmentName(%q, %q) = %q", name, ct, got)
		}
		if IsPDFType(ct) && !strings.HasSuffix(strings.ToLower(got), ".pdf") {
			t.Fatalf("PDF named %q", got)
		}
	})
}

// FuzzLooksLikePDF: whatever the bytes, an answer and no panic; a data URI
// of another type never passes.
func FuzzLooksLikePDF(f *testing.F) {
	for _, seed := range []string{"%PDF-1.7", "data:application/pdf;base64,JVBERi0xLjQK", "data:text/html;base64,JVBERi0xLjQK", "JVBERi0x", "\"data:", "data:,"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		ok := LooksLikePDF(head)
		if ok && strings.HasPrefix(strings.ToLower(strings.TrimLeft(string(head), " \t\r\n\"")), "data:text/") {
			t.Fatalf("LooksLikePDF(%q) passed a text data URI", head)
		}
	})
}
