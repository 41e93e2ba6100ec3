// Package collate orders JSON view keys the way Apache CouchDB 3.4 orders
// view rows, so that an embedded engine returns rows, ranges (startkey,
// endkey) and groups in the same order a CouchDB server would.
//
// The rules are CouchDB's "Views Collation" (couch_ejson_compare):
//
//   - by type first: null < false < true < numbers < strings < arrays <
//     objects;
//   - numbers by value, exactly: an integer literal is an exact integer of
//     any size, a literal with a fraction or an exponent is the nearest
//     IEEE double, and an integer and a double are compared without
//     rounding (Erlang's term order, which CouchDB uses). So 1 == 1.0 ==
//     1e0, -0 == 0, and 9007199254740993 > 9007199254740992.0;
//   - strings with the Unicode Collation Algorithm, root (language-neutral)
//     order at tertiary strength, as CouchDB's ucol_open("") does: case and
//     accents matter only when the base letters tie ("a" < "A" < "á" < "b"),
//     punctuation and spaces are not ignored, control characters are. Two
//     strings the collator deems equal compare equal: CouchDB has no
//     code-point fallback, it breaks such ties by document ID (see Key);
//   - arrays element by element, a shorter array first when it is a prefix;
//   - objects member by member in their stored order, each member by name
//     (a string) and then value, a shorter object first.
//
// Strings are compared with golang.org/x/text/collate's root table, which
// is built from CLDR 23 (Unicode 6.2), while CouchDB 3.4.3 links ICU 72
// (CLDR 42, Unicode 15). Compared on random strings and on a real CouchDB
// (see collate_couchdb_test.go), the two agree on ASCII, control
// characters, Latin with its accents (Latin-1, Extended-A and -B, Extended
// Additional), basic Greek, the Russian alphabet, Hebrew and Arabic
// letters, kana, Hangul syllables and fullwidth ASCII. They disagree on
// characters added to Unicode after 6.2 (most emoji: ICU sorts them among
// the symbols, before digits and letters, x/text after every letter), on
// the order of many symbols, on non-Latin decimal digits (equal to ASCII
// digits for ICU 72), on CJK ideographs that double as radicals (丿), on
// extended Cyrillic and Greek, and on runs of several combining marks. Rows
// keyed by such strings can be ordered differently than on CouchDB.
//
// Compare and CompareValues are for sorting in memory; Key turns a key into
// bytes whose bytes.Compare order is Compare's, for storing view rows in a
// sorted byte-keyed store such as bbolt.
package collate

import (
	"bytes"
	"encoding/json"
)

// Compare compares two view keys given as raw JSON (as emitted and stored)
// and returns -1, 0 or +1. It works on the encoded bytes directly, walking
// both keys in step and stopping at the first difference, so the common
// case of comparing short arrays of strings and numbers decodes nothing,
// allocates nothing and never builds a sort key; ASCII strings, the usual
// content of keys, skip the Unicode collator altogether.
//
// Compare does not validate its input (Key does): for malformed JSON the
// result is unspecified, but Compare does not panic.
func Compare(a, b []byte) int {
	var sa, sb scanner
	sa.data, sb.data = a, b
	r := compareRaw(&sa, &sb)
	if sa.err || sb.err {
		return compareMalformed(a, b)
	}
	return r
}

// compareMalformed orders inputs of which at least one is not JSON: valid
// JSON before malformed input, malformed inputs bytewise. It keeps Compare
// a total order on what it can see, without promising more.
func compareMalformed(a, b []byte) int {
	va, vb := json.Valid(a), json.Valid(b)
	switch {
	case va && vb:
		return 0
	case va:
		return -1
	case vb:
		return 1
	}
	return bytes.Compare(a, b)
}

// Key returns the binary sort key of a view key given as raw JSON: for any
// two valid keys a and b, bytes.Compare(Key(a), Key(b)) equals Compare(a, b)
// (and keys that compare equal get identical bytes). It lets an embedded
// engine keep view rows in a B+tree in CouchDB's order without calling back
// into a comparison function.
//
// A Key is never a prefix of another Key, so a row key can be built by
// appending to it: CouchDB orders rows with equal keys by document ID,
// bytewise, which is exactly the order of Key(k) followed by the ID's bytes.
//
// Key returns an error for input that is not a single valid JSON value.
// Strings are keyed by the collation weights of their characters, so the
// original key cannot be recovered from a Key: store it beside the row.
// Keys depend on the collation tables of golang.org/x/text: rebuild stored
// keys when that dependency's collation data changes.
func Key(raw []byte) ([]byte, error) {
	var buf [256]byte
	s := scanner{data: raw}
	out := appendRawKey(buf[:0], &s)
	if s.skipWS(); s.err || s.pos != len(raw) {
		return nil, errInvalid
	}
	return append([]byte(nil), out...), nil
}
