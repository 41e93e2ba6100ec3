package porting

import "strings"

// NormalizeNumber converts a number as clients send it to E.164: a leading
// "+" is kept; 10 digits, or 11 starting with 1, are NANP (+1…); an "011" or
// "00" prefix is the international prefix; anything else gets a "+".
// Separators (space, dot, dash, parentheses) are dropped. ok is false when
// the result is not "+" and 8–15 digits.
func NormalizeNumber(raw string) (e164 string, ok bool) {
	s := strings.TrimSpace(raw)
	plus := strings.HasPrefix(s, "+")
	digits := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		case c == '+' && i == 0:
		default:
			return "", false
		}
	}
	d := string(digits)
	switch {
	case plus:
	case len(d) == 10 && d[0] != '0' && d[0] != '1':
		d = "1" + d
	case len(d) == 11 && d[0] == '1':
	case strings.HasPrefix(d, "011"):
		d = d[3:]
	case strings.HasPrefix(d, "00"):
		d = d[2:]
	}
	if len(d) < 8 || len(d) > 15 || d[0] == '0' {
		return "", false
	}
	return "+" + d, true
}

// NumberDB is the Kazoo number database holding e164: "numbers/" and the
// first five characters ("numbers/+1202").
func NumberDB(e164 string) string {
	if len(e164) > 5 {
		return "numbers/" + e164[:5]
	}
	return "numbers/" + e164
}

// EncodedNumberDB is NumberDB URL-encoded, as Kazoo writes it into
// pvt_db_name (knm_converters:to_db): "numbers%2F%2B1202".
func EncodedNumberDB(e164 string) string {
	return strings.NewReplacer("/", "%2F", "+", "%2B").Replace(NumberDB(e164))
}
