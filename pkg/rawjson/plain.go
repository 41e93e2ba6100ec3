package rawjson

import (
	"encoding/json"
	"unicode/utf8"
)

// The readers below take the common, plain shapes of a value directly and
// hand anything else to encoding/json, so their results are always
// encoding/json's: documents are decoded on every listing row, and
// encoding/json scans its input twice per call (once to validate, once to
// decode).

// plain marks the bytes a JSON string holds as they are: not the quote,
// the backslash or a control character.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// IsPlainByte reports whether c stands for itself inside a JSON string.
func IsPlainByte(c byte) bool { return plain[c] }

// IsPlainString reports whether raw is one JSON string whose bytes need no
// unquoting (no escapes, no control characters, valid UTF-8):
// encoding/json decodes such a string to exactly its contents.
func IsPlainString(raw []byte) bool {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return false
	}
	body := raw[1 : len(raw)-1]
	for _, c := range body {
		if !plain[c] {
			return false
		}
	}
	return utf8.Valid(body)
}

// String decodes raw as json.Unmarshal into a string does: "" when raw is
// absent, not a string, or invalid.
func String(raw []byte) string {
	if IsPlainString(raw) {
		return string(raw[1 : len(raw)-1])
	}
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

// Bool decodes raw as json.Unmarshal into a bool does: false unless true.
func Bool(raw []byte) bool {
	switch string(raw) {
	case "true":
		return true
	case "false", "null", "":
		return false
	}
	var b bool
	_ = json.Unmarshal(raw, &b)
	return b
}

// Int64 decodes raw as json.Unmarshal into an int64 does: 0 unless raw is
// an integer literal that fits.
func Int64(raw []byte) int64 {
	if n, ok := PlainInt(raw); ok {
		return n
	}
	var n int64
	_ = json.Unmarshal(raw, &n)
	return n
}

// PlainInt reads raw when it is a JSON integer of at most 18 digits (which
// cannot overflow an int64).
func PlainInt(raw []byte) (int64, bool) {
	i, neg := 0, false
	if len(raw) > 0 && raw[0] == '-' {
		i, neg = 1, true
	}
	if n := len(raw) - i; n == 0 || n > 18 || (raw[i] == '0' && n > 1) {
		return 0, false
	}
	var n int64
	for ; i < len(raw); i++ {
		c := raw[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}
