package collate

import (
	"bytes"
	"errors"
	"unicode/utf16"
	"unicode/utf8"
)

var errInvalid = errors.New("collate: key is not a single valid JSON value")

// Type ranks, in CouchDB's order.
const (
	rankBad = iota
	rankNull
	rankFalse
	rankTrue
	rankNumber
	rankString
	rankArray
	rankObject
)

// Sort key tags. tagEnd closes an array or object and tagMember opens an
// object member: both sort before any value, so a shorter container sorts
// first.
const (
	tagEnd    byte = 0x01
	tagMember byte = 0x02
	tagNull   byte = 0x10
	tagFalse  byte = 0x11
	tagTrue   byte = 0x12
	tagNumber byte = 0x20
	tagString byte = 0x30
	tagArray  byte = 0x40
	tagObject byte = 0x50
)

var rankOf = [256]uint8{
	'n': rankNull, 'f': rankFalse, 't': rankTrue,
	'-': rankNumber, '0': rankNumber, '1': rankNumber, '2': rankNumber,
	'3': rankNumber, '4': rankNumber, '5': rankNumber, '6': rankNumber,
	'7': rankNumber, '8': rankNumber, '9': rankNumber,
	'"': rankString, '[': rankArray, '{': rankObject,
}

// scanner reads one JSON text. It is lenient: it sets err on what it
// cannot read and never indexes out of range.
type scanner struct {
	data  []byte
	pos   int
	depth int
	err   bool
}

func (s *scanner) skipWS() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek skips white space and returns the next byte, 0 at the end.
func (s *scanner) peek() byte {
	s.skipWS()
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// literal consumes the literal word (null, true or false).
func (s *scanner) literal(word string) {
	if len(s.data)-s.pos < len(word) || string(s.data[s.pos:s.pos+len(word)]) != word {
		s.err = true
		return
	}
	s.pos += len(word)
}

func (s *scanner) number() number {
	start := s.pos
	for s.pos < len(s.data) {
		switch c := s.data[s.pos]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			s.pos++
			continue
		}
		break
	}
	n, ok := parseNumber(s.data[start:s.pos])
	if !ok {
		s.err = true
	}
	return n
}

// str consumes a string and returns its raw content between the quotes,
// whether it holds escapes and whether it is all ASCII. It checks the
// escapes and rejects raw control characters, as JSON requires.
func (s *scanner) str() (raw []byte, escaped, ascii bool) {
	s.pos++ // the opening quote
	start := s.pos
	if n := bytes.IndexByte(s.data[start:], '"'); n >= 0 {
		raw = s.data[start : start+n]
		if bytes.IndexByte(raw, '\\') < 0 {
			ascii = true
			for _, c := range raw {
				if c < 0x20 {
					s.err = true
					return nil, false, false
				}
				if c >= utf8.RuneSelf {
					ascii = false
				}
			}
			s.pos += n + 1
			return raw, false, ascii
		}
	}
	ascii = true
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			raw = s.data[start:s.pos]
			s.pos++
			return raw, escaped, ascii
		case c == '\\':
			escaped = true
			if s.pos+1 >= len(s.data) {
				s.err = true
				return nil, false, false
			}
			switch s.data[s.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos += 2
			case 'u':
				if hex4(s.data, s.pos+2) < 0 {
					s.err = true
					return nil, false, false
				}
				s.pos += 6
			default:
				s.err = true
				return nil, false, false
			}
			continue
		case c < 0x20:
			s.err = true
			return nil, false, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		s.pos++
	}
	s.err = true
	return nil, false, false
}

// maxDepth bounds the nesting of arrays and objects, as encoding/json's.
const maxDepth = 10000

// enter counts one more level of nesting.
func (s *scanner) enter() {
	s.depth++
	if s.depth > maxDepth {
		s.err = true
	}
}

// next prepares for the next element of an array or object: it reports
// whether the container ends (consuming the closing byte) and otherwise
// consumes the comma before every element but the first.
func (s *scanner) next(first bool, closer byte) (end bool) {
	c := s.peek()
	if c == closer {
		s.pos++
		return true
	}
	if !first {
		if c != ',' {
			s.err = true
			return true
		}
		s.pos++
	}
	return false
}

// colon consumes the colon after an object member name.
func (s *scanner) colon() {
	if s.peek() != ':' {
		s.err = true
		return
	}
	s.pos++
}

func sign(r int) int {
	if r < 0 {
		return -1
	}
	if r > 0 {
		return 1
	}
	return 0
}

// compareRaw compares the next value of a with the next value of b,
// reading no further than needed to decide.
func compareRaw(a, b *scanner) int {
	ra, rb := int(rankOf[a.peek()]), int(rankOf[b.peek()])
	if ra == rankBad || rb == rankBad {
		a.err = a.err || ra == rankBad
		b.err = b.err || rb == rankBad
		return 0
	}
	if ra != rb {
		return sign(ra - rb)
	}
	switch ra {
	case rankNull:
		a.literal("null")
		b.literal("null")
		return 0
	case rankFalse:
		a.literal("false")
		b.literal("false")
		return 0
	case rankTrue:
		a.literal("true")
		b.literal("true")
		return 0
	case rankNumber:
		na, nb := a.number(), b.number()
		if a.err || b.err {
			return 0
		}
		return compareNumbers(na, nb)
	case rankString:
		return compareRawStrings(a, b)
	case rankArray:
		a.pos++
		b.pos++
		if a.enter(); a.err {
			return 0
		}
		defer func() { a.depth-- }()
		for first := true; ; first = false {
			ea, eb := a.next(first, ']'), b.next(first, ']')
			if a.err || b.err {
				return 0
			}
			if ea || eb {
				switch {
				case ea && eb:
					return 0
				case ea:
					return -1
				}
				return 1
			}
			if r := compareRaw(a, b); r != 0 || a.err || b.err {
				return r
			}
		}
	default: // rankObject
		a.pos++
		b.pos++
		if a.enter(); a.err {
			return 0
		}
		defer func() { a.depth-- }()
		for first := true; ; first = false {
			ea, eb := a.next(first, '}'), b.next(first, '}')
			if a.err || b.err {
				return 0
			}
			if ea || eb {
				switch {
				case ea && eb:
					return 0
				case ea:
					return -1
				}
				return 1
			}
			if a.peek() != '"' || b.peek() != '"' {
				a.err, b.err = true, true
				return 0
			}
			if r := compareRawStrings(a, b); r != 0 || a.err || b.err {
				return r
			}
			a.colon()
			b.colon()
			if a.err || b.err {
				return 0
			}
			if r := compareRaw(a, b); r != 0 || a.err || b.err {
				return r
			}
		}
	}
}

// compareRawStrings compares the strings both scanners are at.
func compareRawStrings(a, b *scanner) int {
	sa, escA, asciiA := a.str()
	sb, escB, asciiB := b.str()
	if a.err || b.err {
		return 0
	}
	if !escA && !escB {
		if string(sa) == string(sb) {
			return 0
		}
		if asciiA && asciiB && asciiFast {
			return compareASCII(sa, sb)
		}
	}
	// Decode into pooled buffers: the collator keeps a reference to what
	// it is given, and should not keep the caller's bytes.
	st := getState()
	if escA {
		st.a = unescape(st.a[:0], sa)
	} else {
		st.a = appendValidUTF8(st.a[:0], sa)
	}
	if escB {
		st.b = unescape(st.b[:0], sb)
	} else {
		st.b = appendValidUTF8(st.b[:0], sb)
	}
	var r int
	switch {
	case string(st.a) == string(st.b):
		r = 0
	case asciiFast && isASCII(st.a) && isASCII(st.b):
		r = compareASCII(st.a, st.b)
	default:
		r = st.compare(st.a, st.b)
	}
	putState(st)
	return r
}

// unescape appends the decoded content of a JSON string to dst, as
// encoding/json decodes it: invalid UTF-8 and unpaired surrogates become
// U+FFFD.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\' && i+1 < len(raw):
			i += 2
			switch raw[i-1] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(raw, i)
				if r < 0 {
					dst = utf8.AppendRune(dst, utf8.RuneError)
					continue
				}
				i += 4
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
						r2 = hex4(raw, i+2)
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						i += 6
						r = dec
					} else {
						r = utf8.RuneError
					}
				}
				dst = utf8.AppendRune(dst, r)
			default: // \" \\ \/ (and, leniently, any other)
				dst = append(dst, raw[i-1])
			}
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, raw[i:i+size]...)
			}
			i += size
		}
	}
	return dst
}

func hex4(raw []byte, i int) rune {
	if i+4 > len(raw) {
		return -1
	}
	var r rune
	for _, c := range raw[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// appendRawKey appends the sort key of the next value, setting s.err if
// the input is not valid JSON.
func appendRawKey(dst []byte, s *scanner) []byte {
	switch rankOf[s.peek()] {
	case rankNull:
		s.literal("null")
		return append(dst, tagNull)
	case rankFalse:
		s.literal("false")
		return append(dst, tagFalse)
	case rankTrue:
		s.literal("true")
		return append(dst, tagTrue)
	case rankNumber:
		n := s.number()
		return appendNumberKey(append(dst, tagNumber), n)
	case rankString:
		return appendRawStringKey(append(dst, tagString), s)
	case rankArray:
		s.pos++
		if s.enter(); s.err {
			return dst
		}
		defer func() { s.depth-- }()
		dst = append(dst, tagArray)
		for first := true; !s.next(first, ']'); first = false {
			dst = appendRawKey(dst, s)
			if s.err {
				return dst
			}
		}
		return append(dst, tagEnd)
	case rankObject:
		s.pos++
		if s.enter(); s.err {
			return dst
		}
		defer func() { s.depth-- }()
		dst = append(dst, tagObject)
		for first := true; !s.next(first, '}'); first = false {
			if s.peek() != '"' {
				s.err = true
				return dst
			}
			dst = appendRawStringKey(append(dst, tagMember), s)
			s.colon()
			dst = appendRawKey(dst, s)
			if s.err {
				return dst
			}
		}
		return append(dst, tagEnd)
	}
	s.err = true
	return dst
}

func appendRawStringKey(dst []byte, s *scanner) []byte {
	raw, escaped, ascii := s.str()
	switch {
	case s.err:
		return dst
	case !escaped && ascii:
		return appendStringKey(dst, raw)
	case !escaped:
		return appendStringKey(dst, raw) // repaired there if not UTF-8
	}
	var tmp [128]byte
	return appendStringKey(dst, unescape(tmp[:0], raw))
}
