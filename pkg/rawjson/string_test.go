package rawjson

import (
	"encoding/json"
	"strings"
	"testing"
)

// oddStrings are ids and names a Kazoo database may hold: control
// characters, DEL, the JavaScript line separators, HTML-significant
// characters, quotes and backslashes, and bytes that are not UTF-8.
var oddStrings = []string{
	"", "plain", "tab\there", "nl\nand\rcr", "\b\f", "nul\x00byte", "\x1f", "del\x7f", "ls\u2028ps\u2029",
	`quote"back\slash`, "<script>&amp;</script>", "é ü 日本 🙂", "bad\xffutf8", "\xc3", "\xed\xa0\x80",
	"bom\ufeff", "\ufffd", "a\u2027\u202a", strings.Repeat("x", 100) + "\n",
}

// TestAppendStringAsEncodingJSON checks that AppendString writes exactly
// encoding/json's bytes, and appends to what is there.
func TestAppendStringAsEncodingJSON(t *testing.T) {
	for _, s := range oddStrings {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("AppendString(%q) = %s, want %s", s, got[1:], want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range oddStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
	})
}

// TestPlainReaders checks String, Bool and Int64 against json.Unmarshal.
func TestPlainReaders(t *testing.T) {
	for _, raw := range []string{`"a"`, `"a\"b"`, `"é"`, "\"\xff\"", "\"\x01\"", ` "a" `, `"a`, `1`, `-1`, `0`, `01`, `-0`,
		`1.5`, `1e3`, `123456789012345678`, `1234567890123456789`, `99999999999999999999`, `-`, `true`, `false`,
		`null`, ``, ` true`, `true x`, `{}`, `[]`} {
		var s string
		var b bool
		var n int64
		_ = json.Unmarshal([]byte(raw), &s)
		_ = json.Unmarshal([]byte(raw), &b)
		_ = json.Unmarshal([]byte(raw), &n)
		if got := String([]byte(raw)); got != s {
			t.Errorf("String(%q) = %q, want %q", raw, got, s)
		}
		if got := Bool([]byte(raw)); got != b {
			t.Errorf("Bool(%q) = %v, want %v", raw, got, b)
		}
		if got := Int64([]byte(raw)); got != n {
			t.Errorf("Int64(%q) = %d, want %d", raw, got, n)
		}
	}
}

func BenchmarkAppendString(b *testing.B) {
	for _, c := range []struct{ name, s string }{
		{"id", "84e0a824c6b74fe1e3ec48962a600ef2"},
		{"name", "Acme Corp main lines"},
		{"escapes", "Zürich <main> \"lines\"\n"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 128)
			for b.Loop() {
				buf = AppendString(buf[:0], c.s)
			}
		})
	}
}
