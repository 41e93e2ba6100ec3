package jsview

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// CouchDB does not hand the query server's JSON.stringify output to its
// clients as it is: it decodes it (jiffy) into Erlang terms and encodes those
// again. Rows therefore carry CouchDB's encoding, which differs from
// JSON.stringify in a few places that this file reproduces:
//
//   - control characters other than \b \t \n \f \r are escaped \u00XX with
//     upper-case hex (JSON.stringify writes lower case);
//   - a lone surrogate (which JSON.stringify escapes as \udXXX) becomes U+FFFD;
//   - numbers written with a fraction or an exponent are Erlang floats and are
//     printed shortest-round-trip like JavaScript, plus ".0" when the result
//     would otherwise read as an integer (3.0, 0.0); digits-only numbers are
//     Erlang integers of any size. Reduce results follow the same rules.
//   - the smallest subnormal (5e-324) comes back as 0.0 (seen on CouchDB 3.4.3).

// couchRaw rewrites one JSON.stringify text into CouchDB's encoding. Most
// texts need nothing: the scan only allocates when an escape or the
// subnormal needs fixing.
func couchRaw(b []byte) []byte {
	if bytes.IndexByte(b, '\\') < 0 && !bytes.Contains(b, []byte("5e-324")) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '"':
			j := i + 1
			out = append(out, '"')
			for j < len(b) && b[j] != '"' {
				if b[j] != '\\' {
					out = append(out, b[j])
					j++
					continue
				}
				if j+1 < len(b) && b[j+1] == 'u' && j+5 < len(b) {
					r, err := strconv.ParseUint(string(b[j+2:j+6]), 16, 32)
					if err == nil {
						switch {
						case r >= 0xD800 && r <= 0xDFFF:
							// JSON.stringify only escapes unpaired surrogates.
							out = append(out, "\uFFFD"...)
						case r < 0x20:
							out = append(out, '\\', 'u')
							out = append(out, bytes.ToUpper(b[j+2:j+6])...)
						default:
							out = utf8.AppendRune(out, rune(r))
						}
						j += 6
						continue
					}
				}
				out = append(out, b[j], b[j+1])
				j += 2
			}
			out = append(out, '"')
			i = j + 1
		case c == '-' || (c >= '0' && c <= '9'):
			j := i
			for j < len(b) && strings.IndexByte("+-.eE0123456789", b[j]) >= 0 {
				j++
			}
			num := string(b[i:j])
			if num == "5e-324" || num == "-5e-324" {
				out = append(out, "0.0"...)
			} else {
				out = append(out, num...)
			}
			i = j
		default:
			out = append(out, c)
			i++
		}
	}
	return out
}

// encode writes v in CouchDB's encoding.
func (v value) encode() []byte { return v.appendTo(nil) }

func (v value) appendTo(b []byte) []byte {
	switch v.kind {
	case kNull:
		return append(b, "null"...)
	case kTrue:
		return append(b, "true"...)
	case kFalse:
		return append(b, "false"...)
	case kInt:
		return v.i.Append(b, 10)
	case kFloat:
		return append(b, couchFloat(v.f)...)
	case kString:
		return appendCouchString(b, v.s)
	case kArray:
		b = append(b, '[')
		for i, e := range v.elems {
			if i > 0 {
				b = append(b, ',')
			}
			b = e.appendTo(b)
		}
		return append(b, ']')
	default:
		b = append(b, '{')
		for i, k := range v.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCouchString(b, k)
			b = append(b, ':')
			b = v.elems[i].appendTo(b)
		}
		return append(b, '}')
	}
}

const hexDigits = "0123456789ABCDEF"

func appendCouchString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x80 {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, "\uFFFD"...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			if c < 0x20 {
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			} else {
				b = append(b, c)
			}
		}
		i++
	}
	return append(b, '"')
}

// jsNumber formats f like JavaScript's Number.prototype.toString.
func jsNumber(f float64) string {
	if f == 0 {
		return "0"
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "null"
	}
	sign := ""
	if f < 0 {
		sign = "-"
		f = -f
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, exp, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	x, _ := strconv.Atoi(exp)
	n := x + 1 // value = 0.digits × 10^n
	k := len(digits)
	switch {
	case k <= n && n <= 21:
		return sign + digits + strings.Repeat("0", n-k)
	case 0 < n && n <= 21:
		return sign + digits[:n] + "." + digits[n:]
	case -6 < n && n <= 0:
		return sign + "0." + strings.Repeat("0", -n) + digits
	}
	s := digits[:1]
	if k > 1 {
		s += "." + digits[1:]
	}
	if n-1 >= 0 {
		return sign + s + "e+" + strconv.Itoa(n-1)
	}
	return sign + s + "e" + strconv.Itoa(n-1)
}

// couchFloat formats an Erlang float as CouchDB (jiffy) prints it.
func couchFloat(f float64) string {
	s := jsNumber(f)
	if s == "0" {
		return "0.0" // also -0.0
	}
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}
