package requestjson

import (
	"unicode/utf8"

	"github.com/portreqd/portreqd/pkg/rawjson"
)

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

// str scans the string starting at s.i ('"') and returns its raw bytes,
// quotes included, and whether it holds escapes.
func (s *scanner) str() (raw []byte, esc, ok bool) {
	start := s.i
	b, i := s.b, s.i+1
	for {
		for i < len(b) && rawjson.IsPlainByte(b[i]) {
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
// rawjson.IsPlainString) and returns where those contents are in b; ok is false for
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
	n, ok := rawjson.PlainInt(s.b[start:s.i])
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
