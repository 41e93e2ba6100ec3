// Package rawjson holds the JSON primitives portreqd's layers share: the
// one writer of JSON strings (every answer, every document member name and
// value portreqd writes by hand goes through AppendString), and readers of
// plain values that spare encoding/json's two scans of its input. It is
// standard library only and knows nothing of port requests, so the domain
// may use it as it uses encoding/json.
package rawjson

import "unicode/utf8"

// AppendString appends s as a JSON string, byte for byte as encoding/json's
// Marshal writes it: `"` and `\` escaped, control characters as \b \f \n
// \r \t or \u00xx, the HTML-significant < > & as \u003c \u003e \u0026,
// U+2028 and U+2029 (line ends to JavaScript) as \u2028 \u2029, and bytes
// that are not UTF-8 as \ufffd. Answers mix strings written here with
// values encoding/json wrote (error data, _read_only blocks, documents set
// through Fields.Set), so one rule for every string keeps an answer's
// bytes the same whichever path wrote them. Plain ASCII, which most ids
// and names are, is copied in one piece.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if safeASCII[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
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
			default: // other control characters, < > &
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// safeASCII marks the ASCII bytes AppendString copies as they are.
var safeASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()
