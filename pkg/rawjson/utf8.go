package rawjson

import "unicode/utf8"

// ValidUTF8 returns b with each byte that is not part of a UTF-8 sequence
// replaced by U+FFFD, one for each byte, as encoding/json replaces them in
// the strings it decodes; b itself when it is valid. A JSON text passed
// through it decodes to the same values as before, and raw values cut
// from it are fit to be sent as they are.
func ValidUTF8(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}
