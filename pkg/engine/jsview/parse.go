package jsview

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// parseValue decodes one JSON text the way CouchDB (jiffy) does.
func parseValue(b []byte) (value, error) { return parseWith(b, false, nil) }

// parseJS decodes one JSON text the way JavaScript's JSON.parse does: every
// number is a float64, a repeated member name keeps its first position and
// its last value, and object members are in JavaScript's enumeration order
// (array-index names first, ascending, then the others as written).
//
// Only the outermost array or object is built: the ones inside are checked
// and left as kLazy, for (*value).force to build when a map function reads
// them. Map functions read a handful of a document's members; building the
// rest was half the time spent on a 6 KB document.
func parseJS(b []byte, sc *scratch) (value, error) { return parseWith(b, true, sc) }

// scratch is a parser's working stack, kept between documents by each
// runtime: growing it again for every document was most of the parse time.
type scratch struct {
	vals []value
	keys []string
}

// force builds a kLazy value in place (one level, like parseJS). The text
// was checked when it was skipped, so an error here is a bug.
func (v *value) force(sc *scratch) error {
	if v.kind != kLazy {
		return nil
	}
	nv, err := parseJS(v.raw, sc)
	if err != nil {
		return err
	}
	*v = nv
	return nil
}

func parseWith(b []byte, js bool, sc *scratch) (value, error) {
	p := parser{b: b, js: js}
	if sc != nil {
		p.vals, p.keys = sc.vals[:0], sc.keys[:0]
		defer func() {
			clear(p.vals[:p.high]) // drop references into the document
			clear(p.keys[:p.high])
			sc.vals, sc.keys = p.vals[:0], p.keys[:0]
		}()
	}
	p.space()
	v, err := p.value(0)
	if err != nil {
		return value{}, err
	}
	p.space()
	if p.i != len(p.b) {
		return value{}, p.errorf("trailing data")
	}
	return v, nil
}

type parser struct {
	b  []byte
	i  int
	js bool // JSON.parse semantics (see parseJS)
	// elements and members of the containers being parsed, innermost last;
	// keys holds member names in step with vals ("" for array elements)
	vals []value
	keys []string
	high int // most entries vals and keys have held
}

func (p *parser) errorf(format string, a ...any) error {
	return fmt.Errorf("jsview: invalid JSON at offset %d: %s", p.i, fmt.Sprintf(format, a...))
}

func (p *parser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) lit(s string, v value) (value, error) {
	if !bytes.HasPrefix(p.b[p.i:], []byte(s)) {
		return value{}, p.errorf("unexpected input")
	}
	p.i += len(s)
	return v, nil
}

func (p *parser) value(depth int) (value, error) {
	if depth > 10000 {
		return value{}, p.errorf("nested too deeply")
	}
	if p.i >= len(p.b) {
		return value{}, p.errorf("unexpected end")
	}
	switch c := p.b[p.i]; {
	case c == 'n':
		return p.lit("null", value{kind: kNull})
	case c == 't':
		return p.lit("true", value{kind: kTrue})
	case c == 'f':
		return p.lit("false", value{kind: kFalse})
	case c == '"':
		s, err := p.str()
		return value{kind: kString, s: s}, err
	case (c == '[' || c == '{') && p.js && depth > 0:
		start := p.i
		if err := p.skip(depth); err != nil {
			return value{}, err
		}
		return value{kind: kLazy, raw: p.b[start:p.i]}, nil
	case c == '[':
		p.i++
		p.space()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return value{kind: kArray, elems: []value{}}, nil
		}
		// Elements collect on a stack shared by every level and are copied
		// out once at the end: one exact-size allocation per array.
		base := len(p.vals)
		for {
			p.space()
			e, err := p.value(depth + 1)
			if err != nil {
				return value{}, err
			}
			p.vals = append(p.vals, e)
			p.keys = append(p.keys, "")
			p.high = max(p.high, len(p.vals))
			p.space()
			if p.i < len(p.b) && p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.b) && p.b[p.i] == ']' {
				p.i++
				v := value{kind: kArray, elems: append([]value(nil), p.vals[base:]...)}
				p.keys, p.vals = p.keys[:base], p.vals[:base]
				return v, nil
			}
			return value{}, p.errorf("expected , or ]")
		}
	case c == '{':
		p.i++
		p.space()
		if p.i < len(p.b) && p.b[p.i] == '}' {
			p.i++
			return value{kind: kObject}, nil
		}
		base := len(p.vals)
		var seen map[string]int // member name → stack position, for JSON.parse's repeated names
		for {
			p.space()
			if p.i >= len(p.b) || p.b[p.i] != '"' {
				return value{}, p.errorf("expected member name")
			}
			k, err := p.str()
			if err != nil {
				return value{}, err
			}
			p.space()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				return value{}, p.errorf("expected :")
			}
			p.i++
			p.space()
			e, err := p.value(depth + 1)
			if err != nil {
				return value{}, err
			}
			at := -1
			if p.js {
				if seen != nil {
					if j, ok := seen[k]; ok {
						at = j
					}
				} else {
					for j := base; j < len(p.vals); j++ {
						if p.keys[j] == k {
							at = j
							break
						}
					}
					if len(p.vals)-base >= 16 {
						seen = make(map[string]int, 32)
						for j := base; j < len(p.vals); j++ {
							seen[p.keys[j]] = j
						}
					}
				}
			}
			if at >= 0 {
				p.vals[at] = e // repeated name: JSON.parse keeps the last value
			} else {
				if seen != nil {
					seen[k] = len(p.vals)
				}
				p.keys = append(p.keys, k)
				p.vals = append(p.vals, e)
				p.high = max(p.high, len(p.vals))
			}
			p.space()
			if p.i < len(p.b) && p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.b) && p.b[p.i] == '}' {
				p.i++
				v := value{kind: kObject, keys: append([]string(nil), p.keys[base:]...), elems: append([]value(nil), p.vals[base:]...)}
				p.keys, p.vals = p.keys[:base], p.vals[:base]
				if p.js {
					v.jsOrder()
				}
				return v, nil
			}
			return value{}, p.errorf("expected , or }")
		}
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.i
		end, isFloat, ok := numberEnd(p.b, p.i)
		if !ok {
			return value{}, p.errorf("bad number")
		}
		p.i = end
		if p.js {
			if f, ok := smallInt(p.b[start:end]); ok {
				return value{kind: kFloat, f: f}, nil
			}
			f, err := strconv.ParseFloat(string(p.b[start:end]), 64)
			if err != nil && !errors.Is(err, strconv.ErrRange) {
				return value{}, p.errorf("bad number")
			}
			return value{kind: kFloat, f: f}, nil
		}
		num := string(p.b[start:end])
		if !isFloat {
			n, ok := new(big.Int).SetString(num, 10)
			if !ok {
				return value{}, p.errorf("bad number %q", num)
			}
			return value{kind: kInt, i: n}, nil
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) || math.IsInf(f, 0) {
			return value{}, p.errorf("bad number %q", num)
		}
		return value{kind: kFloat, f: f}, nil
	default:
		return value{}, p.errorf("unexpected %q", c)
	}
}

// numberEnd checks the JSON number grammar from i and returns where the
// number ends and whether it has a fraction or an exponent.
func numberEnd(b []byte, i int) (end int, isFloat, ok bool) {
	digits := func() bool {
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > start
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return i, false, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		isFloat = true
		if !digits() {
			return i, false, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		isFloat = true
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return i, false, false
		}
	}
	return i, isFloat, true
}

// smallInt converts an integer of up to 15 digits exactly, without the
// allocation strconv.ParseFloat's string argument costs.
func smallInt(b []byte) (float64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		if n == 0 {
			return math.Copysign(0, -1), true
		}
		return float64(-n), true
	}
	return float64(n), true
}

// skip checks the value at p.i without building it.
func (p *parser) skip(depth int) error {
	if depth > 10000 {
		return p.errorf("nested too deeply")
	}
	if p.i >= len(p.b) {
		return p.errorf("unexpected end")
	}
	switch c := p.b[p.i]; {
	case c == '"':
		return p.skipString()
	case c == 'n':
		_, err := p.lit("null", value{})
		return err
	case c == 't':
		_, err := p.lit("true", value{})
		return err
	case c == 'f':
		_, err := p.lit("false", value{})
		return err
	case c == '-' || (c >= '0' && c <= '9'):
		end, _, ok := numberEnd(p.b, p.i)
		if !ok {
			return p.errorf("bad number")
		}
		p.i = end
		return nil
	case c == '[' || c == '{':
		closing := byte(']')
		if c == '{' {
			closing = '}'
		}
		p.i++
		p.space()
		if p.i < len(p.b) && p.b[p.i] == closing {
			p.i++
			return nil
		}
		for {
			p.space()
			if c == '{' {
				if p.i >= len(p.b) || p.b[p.i] != '"' {
					return p.errorf("expected member name")
				}
				if err := p.skipString(); err != nil {
					return err
				}
				p.space()
				if p.i >= len(p.b) || p.b[p.i] != ':' {
					return p.errorf("expected :")
				}
				p.i++
				p.space()
			}
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			p.space()
			if p.i < len(p.b) && p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.i < len(p.b) && p.b[p.i] == closing {
				p.i++
				return nil
			}
			return p.errorf("expected , or %c", closing)
		}
	}
	return p.errorf("unexpected %q", p.b[p.i])
}

func (p *parser) skipString() error {
	p.i++ // opening quote
	for p.i < len(p.b) {
		switch c := p.b[p.i]; c {
		case '"':
			p.i++
			return nil
		case '\\':
			if p.i+1 >= len(p.b) {
				return p.errorf("bad escape")
			}
			switch p.b[p.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i += 2
			case 'u':
				p.i += 2
				if _, ok := p.hex4(); !ok {
					return p.errorf("bad \\u escape")
				}
			default:
				return p.errorf("bad escape")
			}
		default:
			p.i++
		}
	}
	return p.errorf("unterminated string")
}

// str decodes a string; unpaired surrogates become U+FFFD as in CouchDB.
func (p *parser) str() (string, error) {
	p.i++ // opening quote
	// Fast path: no escapes, ASCII or valid UTF-8.
	for j := p.i; j < len(p.b); j++ {
		c := p.b[j]
		if c == '"' {
			if s := p.b[p.i:j]; utf8.Valid(s) {
				p.i = j + 1
				return string(s), nil
			}
			break
		}
		if c == '\\' {
			break
		}
	}
	var sb strings.Builder
	for {
		if p.i >= len(p.b) {
			return "", p.errorf("unterminated string")
		}
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return sb.String(), nil
		case c == '\\':
			if p.i+1 >= len(p.b) {
				return "", p.errorf("bad escape")
			}
			e := p.b[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				sb.WriteByte(e)
			case 'b':
				sb.WriteByte('\b')
			case 'f':
				sb.WriteByte('\f')
			case 'n':
				sb.WriteByte('\n')
			case 'r':
				sb.WriteByte('\r')
			case 't':
				sb.WriteByte('\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", p.errorf("bad \\u escape")
				}
				if utf16.IsSurrogate(r) {
					if r < 0xDC00 && p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
						save := p.i
						p.i += 2
						if r2, ok := p.hex4(); ok && r2 >= 0xDC00 && r2 <= 0xDFFF {
							sb.WriteRune(utf16.DecodeRune(r, r2))
							continue
						}
						p.i = save
					}
					r = utf8.RuneError
				}
				sb.WriteRune(r)
			default:
				return "", p.errorf("bad escape")
			}
		default:
			r, size := utf8.DecodeRune(p.b[p.i:])
			sb.WriteRune(r) // invalid UTF-8 becomes U+FFFD
			p.i += size
		}
	}
}

func (p *parser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(p.b[p.i:p.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(n), true
}

// jsOrder moves array-index member names to the front in ascending numeric
// order, as JavaScript enumerates an ordinary object's own properties.
func (v *value) jsOrder() {
	n := 0
	for _, k := range v.keys {
		if _, ok := arrayIndex(k); ok {
			n++
		}
	}
	if n == 0 {
		return
	}
	type member struct {
		k string
		e value
	}
	idx := make([]member, 0, n)
	rest := make([]member, 0, len(v.keys)-n)
	for i, k := range v.keys {
		if _, ok := arrayIndex(k); ok {
			idx = append(idx, member{k, v.elems[i]})
		} else {
			rest = append(rest, member{k, v.elems[i]})
		}
	}
	sort.SliceStable(idx, func(i, j int) bool {
		a, _ := arrayIndex(idx[i].k)
		b, _ := arrayIndex(idx[j].k)
		return a < b
	})
	for i, m := range append(idx, rest...) {
		v.keys[i], v.elems[i] = m.k, m.e
	}
}

// arrayIndex reports whether k is a canonical array index (0 … 2^32-2).
func arrayIndex(k string) (uint64, bool) {
	if k == "" || len(k) > 10 || (len(k) > 1 && k[0] == '0') {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(k); i++ {
		if k[i] < '0' || k[i] > '9' {
			return 0, false
		}
		n = n*10 + uint64(k[i]-'0')
	}
	return n, n < 1<<32-1
}
