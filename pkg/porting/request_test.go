package porting

import (
	"encoding/json"
	"testing"
)

func TestFieldsStringBool(t *testing.T) {
	f := Fields{}
	for _, raw := range []string{`"a"`, `"a\"b"`, `"é"`, "\"\xff\"", ` "a" `, `"a`, `1`, `true`, `false`, `null`, ``, ` true`, `true x`, `{}`} {
		f["k"] = json.RawMessage(raw)
		var s string
		var b bool
		_ = json.Unmarshal(f["k"], &s)
		_ = json.Unmarshal(f["k"], &b)
		if got := f.String("k"); got != s {
			t.Errorf("String(%q) = %q, want %q", raw, got, s)
		}
		if got := f.Bool("k"); got != b {
			t.Errorf("Bool(%q) = %v, want %v", raw, got, b)
		}
	}
	if f.String("absent") != "" || f.Bool("absent") {
		t.Error("absent member")
	}
}
