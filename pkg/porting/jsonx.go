package porting

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Fields is a JSON object kept as raw members. Documents written by Kazoo (or
// by clients) carry keys portreqd does not model; keeping them raw means a
// read-modify-write never drops them.
type Fields map[string]json.RawMessage

// Clone returns a shallow copy; raw values are immutable by convention.
func (f Fields) Clone() Fields {
	out := make(Fields, len(f))
	for k, v := range f {
		out[k] = v
	}
	return out
}

// Set marshals v under key.
//
// Scalars are written without encoding/json: listings set several members
// on every row.
func (f Fields) Set(key string, v any) {
	switch v := v.(type) {
	case string:
		f[key] = appendJSONString(nil, v)
		return
	case State:
		f[key] = appendJSONString(nil, string(v))
		return
	case int64:
		f[key] = strconv.AppendInt(nil, v, 10)
		return
	case int:
		f[key] = strconv.AppendInt(nil, int64(v), 10)
		return
	case bool:
		f[key] = strconv.AppendBool(nil, v)
		return
	case json.RawMessage:
		f[key] = v
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic("porting: marshal " + key + ": " + err.Error())
	}
	f[key] = b
}

// appendJSONString appends s quoted as encoding/json would (HTML escaping
// included, so the bytes are identical), taking a shortcut for plain ASCII.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= 0x80 {
			enc, _ := json.Marshal(s)
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// String returns the member key as a string, "" when absent or not a string.
func (f Fields) String(key string) string {
	if raw, ok := f[key]; ok {
		return decodeString(raw)
	}
	return ""
}

// Bool returns the member key as a bool, false when absent or not a bool.
func (f Fields) Bool(key string) bool {
	if raw, ok := f[key]; ok {
		return decodeBool(raw)
	}
	return false
}

// isNull reports whether raw is JSON null (or empty).
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// jsonType names the JSON type of raw as JSON Schema does.
func jsonType(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "null"
	}
	switch t[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// UnmarshalRaw decodes a raw JSON object into f; anything else leaves f
// empty. Optional objects (bill, notifications) are read this way.
func (f *Fields) UnmarshalRaw(raw json.RawMessage) error {
	if isNull(raw) || jsonType(raw) != "object" {
		*f = Fields{}
		return nil
	}
	return json.Unmarshal(raw, f)
}

// Fast paths. Documents are decoded on every listing row, and
// encoding/json scans its input twice per call (once to validate, once to
// decode), so decoding members one json.Unmarshal at a time scans each
// several times. The helpers below read the common, plain shapes directly
// and report when they meet anything else, in which case the caller falls
// back to encoding/json: results are always encoding/json's.

// isPlainString reports whether raw is one JSON string whose bytes need no
// unquoting (no escapes, no control characters, valid UTF-8): encoding/json
// decodes such a string to exactly its contents.
func isPlainString(raw []byte) bool {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return false
	}
	body := raw[1 : len(raw)-1]
	for _, c := range body {
		if !strSafe[c] {
			return false
		}
	}
	return utf8.Valid(body)
}

// decodeString decodes raw as json.Unmarshal into a string does: "" when raw
// is absent, not a string, or invalid.
func decodeString(raw []byte) string {
	if isPlainString(raw) {
		return string(raw[1 : len(raw)-1])
	}
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

// decodeBool decodes raw as json.Unmarshal into a bool does.
func decodeBool(raw []byte) bool {
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

// decodeInt64 decodes raw as json.Unmarshal into an int64 does: 0 unless raw
// is an integer literal that fits.
func decodeInt64(raw []byte) int64 {
	if n, ok := plainInt(raw); ok {
		return n
	}
	var n int64
	_ = json.Unmarshal(raw, &n)
	return n
}

// plainInt reads raw when it is a JSON integer of at most 18 digits
// (which cannot overflow an int64).
func plainInt(raw []byte) (int64, bool) {
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

// maxScanDepth bounds the nesting scanner follows; deeper documents (which
// encoding/json accepts up to 10000 levels) take the encoding/json path.
const maxScanDepth = 256

// scanner walks one JSON text held in b, validating as it goes. It accepts
// only valid JSON (a subset of what encoding/json accepts may make it give
// up, never the reverse); any method returning false means "use
// encoding/json instead", not "invalid".
type scanner struct {
	b []byte
	// text is b as a string when the strings decoded may share its memory
	// (one copy of the document instead of one allocation per string); ""
	// to copy each.
	text string
	i    int
}

// sub returns b[from:to] as a string.
func (s *scanner) sub(from, to int) string {
	if s.text != "" {
		return s.text[from:to]
	}
	return string(s.b[from:to])
}

// ws skips insignificant whitespace.
func (s *scanner) ws() {
	for s.i < len(s.b) && s.b[s.i] <= ' ' {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next skips whitespace and returns the next byte, 0 at the end.
func (s *scanner) next() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// consume skips whitespace and the byte c, reporting whether it was there.
func (s *scanner) consume(c byte) bool {
	if s.next() == c {
		s.i++
		return true
	}
	return false
}

// strSafe marks the bytes a string holds as they are: not the quote, the
// backslash or a control character.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str scans the string starting at s.i ('"') and returns its raw bytes,
// quotes included, and whether it holds escapes.
func (s *scanner) str() (raw []byte, esc, ok bool) {
	start := s.i
	b, i := s.b, s.i+1
	for {
		for i < len(b) && strSafe[b[i]] {
			i++
		}
		if i >= len(b) {
			return nil, false, false
		}
		switch b[i] {
		case '"':
			s.i = i + 1
			return b[start:s.i:s.i], esc, true
		case '\\':
			esc = true
			if i+1 >= len(b) {
				return nil, false, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return nil, false, false
				}
				for _, h := range b[i+2 : i+6] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return nil, false, false
					}
				}
				i += 6
			default:
				return nil, false, false
			}
		default: // a control character
			return nil, false, false
		}
	}
}

// plainStr scans a string whose decoded value is its contents (see
// isPlainString) and returns where those contents are in b; ok is false for
// any other string or for something else.
func (s *scanner) plainStr() (from, to int, ok bool) {
	if s.next() != '"' {
		return 0, 0, false
	}
	raw, esc, ok := s.str()
	if !ok || esc || !utf8.Valid(raw[1:len(raw)-1]) {
		return 0, 0, false
	}
	return s.i - len(raw) + 1, s.i - 1, true
}

// key scans an object member name and the colon after it, returning where
// the name is in b when it is plain (see plainStr).
func (s *scanner) key() (from, to int, ok bool) {
	from, to, ok = s.plainStr()
	if !ok || !s.consume(':') {
		return 0, 0, false
	}
	return from, to, true
}

// skip scans the value at s.i.
func (s *scanner) skip(depth int) bool {
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, _, ok := s.str()
		return ok
	case c == '{':
		if depth >= maxScanDepth {
			return false
		}
		s.i++
		if s.consume('}') {
			return true
		}
		for {
			if s.next() != '"' {
				return false
			}
			if _, _, ok := s.str(); !ok || !s.consume(':') {
				return false
			}
			s.ws()
			if !s.skip(depth + 1) {
				return false
			}
			switch s.next() {
			case ',':
				s.i++
			case '}':
				s.i++
				return true
			default:
				return false
			}
		}
	case c == '[':
		if depth >= maxScanDepth {
			return false
		}
		s.i++
		if s.consume(']') {
			return true
		}
		for {
			s.ws()
			if !s.skip(depth + 1) {
				return false
			}
			switch s.next() {
			case ',':
				s.i++
			case ']':
				s.i++
				return true
			default:
				return false
			}
		}
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	}
	return false
}

// literal scans the literal lit.
func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

// number scans a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
// The byte after it is the caller's to check.
func (s *scanner) number() bool {
	if s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i >= len(s.b):
		return false
	case s.b[s.i] == '0':
		s.i++
	case '1' <= s.b[s.i] && s.b[s.i] <= '9':
		s.digits()
	default:
		return false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return false
		}
	}
	return true
}

// digits skips decimal digits and returns how many.
func (s *scanner) digits() int {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}

// end reports whether only whitespace is left.
func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// object scans an object, calling member with where each member name is
// in b and the scanner at its value, which member must scan (or report
// false).
func (s *scanner) object(member func(from, to int) bool) bool {
	if !s.consume('{') {
		return false
	}
	if s.consume('}') {
		return true
	}
	for {
		from, to, ok := s.key()
		if !ok || !member(from, to) {
			return false
		}
		if s.consume(',') {
			continue
		}
		return s.consume('}')
	}
}

// array scans an array, calling elem with the scanner at each element,
// which elem must scan (or report false).
func (s *scanner) array(elem func() bool) bool {
	if !s.consume('[') {
		return false
	}
	if s.consume(']') {
		return true
	}
	for {
		s.ws()
		if !elem() {
			return false
		}
		if s.consume(',') {
			continue
		}
		return s.consume(']')
	}
}

// null scans a null, reporting whether there was one: null decodes to no
// change of a string, number, bool or struct.
func (s *scanner) null() bool {
	if s.next() == 'n' {
		return s.literal("null")
	}
	return false
}

// stringValue scans a plain string (or null) into *p.
func (s *scanner) stringValue(p *string) bool {
	if s.null() {
		return true
	}
	from, to, ok := s.plainStr()
	if ok {
		*p = s.sub(from, to)
	}
	return ok
}

// int64Value scans an integer of up to 18 digits (or null) into *p.
func (s *scanner) int64Value(p *int64) bool {
	if s.null() {
		return true
	}
	if c := s.next(); c != '-' && (c < '0' || c > '9') {
		return false
	}
	start := s.i
	if !s.number() {
		return false
	}
	n, ok := plainInt(s.b[start:s.i])
	if ok {
		*p = n
	}
	return ok
}

// boolValue scans true, false (or null) into *p.
func (s *scanner) boolValue(p *bool) bool {
	switch s.next() {
	case 'n':
		return s.literal("null")
	case 't':
		*p = true
		return s.literal("true")
	case 'f':
		*p = false
		return s.literal("false")
	}
	return false
}
