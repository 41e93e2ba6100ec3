package collate

import (
	"sync"
	"unicode/utf8"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"
)

// A collator is not safe for concurrent use and is costly to set up, so
// each goroutine borrows one, with a key buffer and unescape scratch space,
// from a pool.
type collState struct {
	c    *collate.Collator
	buf  collate.Buffer
	a, b []byte
}

var statePool = sync.Pool{New: func() any {
	// The root collation with its default options: tertiary strength,
	// non-ignorable variable characters, no identical level, which is
	// what ICU's ucol_open("") gives CouchDB.
	return &collState{c: collate.New(language.Und)}
}}

func getState() *collState   { return statePool.Get().(*collState) }
func putState(st *collState) { st.a, st.b = st.a[:0], st.b[:0]; st.buf.Reset(); statePool.Put(st) }

// asciiWeight is the collation element of one ASCII character in the root
// table. ASCII strings are collated from this table instead of by the
// collator: they are most keys, and the collator costs ten times more.
type asciiWeight struct {
	p    uint32  // primary weight, 0 for an ignorable (control) character
	s    uint16  // secondary weight
	t    uint8   // tertiary weight
	pkey [3]byte // primary as a sort key unit (see appendPrimaryUnit)
	plen uint8
}

var (
	asciiTable [128]asciiWeight
	// asciiFast is false if the root table breaks an assumption the
	// fast path relies on (then every string goes to the collator).
	asciiFast bool
	// asciiSecondary is the one secondary weight of every non-ignorable
	// ASCII character; with it, secondary level ties whenever the primary
	// level ties.
	asciiSecondary uint16
)

func init() { asciiFast = buildASCIITable() }

// buildASCIITable reads each ASCII character's weights back from the key
// the collator makes for it, whose layout is: primaries (2 or 3 bytes
// each), 0 0, secondaries (2 bytes each), 0 0, tertiaries (1 byte each).
func buildASCIITable() bool {
	c := collate.New(language.Und)
	var buf collate.Buffer
	first := true
	for ch := 0; ch < 128; ch++ {
		buf.Reset()
		k := c.KeyFromString(&buf, string(rune(ch)))
		w := &asciiTable[ch]
		switch len(k) {
		case 4: // completely ignorable
			if k[0]|k[1]|k[2]|k[3] != 0 {
				return false
			}
			continue
		case 9, 10:
			w.plen = uint8(len(k) - 7)
		default: // an expansion: not a single collation element
			return false
		}
		pl := int(w.plen)
		if pl == 3 && k[0] < 0x80 || pl == 2 && k[0] >= 0x80 {
			return false
		}
		if k[pl] != 0 || k[pl+1] != 0 || k[pl+4] != 0 || k[pl+5] != 0 || k[pl+6] == 0 {
			return false
		}
		if pl == 2 {
			w.p = uint32(k[0])<<8 | uint32(k[1])
		} else {
			w.p = uint32(k[0]&0x7f)<<16 | uint32(k[1])<<8 | uint32(k[2])
		}
		w.plen = uint8(copy(w.pkey[:], appendPrimaryUnit(nil, w.p)))
		w.s = uint16(k[pl+2])<<8 | uint16(k[pl+3])
		w.t = k[pl+6]
		if w.p == 0 || w.s == 0 || w.s > 0xfc || w.t > 0xfc {
			return false
		}
		if first {
			asciiSecondary, first = w.s, false
		} else if w.s != asciiSecondary {
			return false
		}
	}
	return !first
}

// compareASCII collates two ASCII strings as the root collator would:
// primary weights of the non-ignorable characters first, then tertiary
// ones (the secondary level cannot differ when the primary level ties).
func compareASCII[T string | []byte](a, b T) int {
	// A common prefix has the same weights on every level: skip it.
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	a, b = a[n:], b[n:]
	i, j := 0, 0
	for {
		for i < len(a) && asciiTable[a[i]].p == 0 {
			i++
		}
		for j < len(b) && asciiTable[b[j]].p == 0 {
			j++
		}
		if i == len(a) || j == len(b) {
			if i < len(a) {
				return 1
			}
			if j < len(b) {
				return -1
			}
			break
		}
		if pa, pb := asciiTable[a[i]].p, asciiTable[b[j]].p; pa != pb {
			if pa < pb {
				return -1
			}
			return 1
		}
		i++
		j++
	}
	i, j = 0, 0
	for {
		for i < len(a) && asciiTable[a[i]].p == 0 {
			i++
		}
		for j < len(b) && asciiTable[b[j]].p == 0 {
			j++
		}
		if i == len(a) { // both end together: the primary level tied
			return 0
		}
		if ta, tb := asciiTable[a[i]].t, asciiTable[b[j]].t; ta != tb {
			if ta < tb {
				return -1
			}
			return 1
		}
		i++
		j++
	}
}

// appendASCIIKey appends the sort key of an ASCII string (see
// appendCollationKey), byte for byte what converting the collator's key
// gives, without the collator.
func appendASCIIKey[T string | []byte](dst []byte, s T) []byte {
	n := 0
	for i := 0; i < len(s); i++ {
		if w := &asciiTable[s[i]]; w.p != 0 {
			dst = append(dst, w.pkey[:w.plen]...)
			n++
		}
	}
	dst = append(dst, levelSep)
	for ; n > 0; n-- {
		dst = append(dst, byte(asciiSecondary)+2)
	}
	dst = append(dst, levelSep)
	for i := 0; i < len(s); i++ {
		if w := &asciiTable[s[i]]; w.p != 0 {
			dst = append(dst, w.t+2)
		}
	}
	return append(dst, stringEnd)
}

func isASCII[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// compareStrings collates two decoded strings.
func compareStrings[T string | []byte](a, b T) int {
	if string(a) == string(b) {
		return 0
	}
	if asciiFast && isASCII(a) && isASCII(b) {
		return compareASCII(a, b)
	}
	st := getState()
	r := st.compare(toBytes(&st.a, a), toBytes(&st.b, b))
	putState(st)
	return r
}

// toBytes copies s into *scratch, repairing invalid UTF-8. The collator
// keeps a reference to its input, so it gets the pooled copy, never the
// caller's bytes.
func toBytes[T string | []byte](scratch *[]byte, s T) []byte {
	*scratch = appendValidUTF8((*scratch)[:0], s)
	return *scratch
}

// appendValidUTF8 appends s with each invalid byte replaced by U+FFFD, as
// encoding/json decodes it, so raw and decoded keys collate alike.
func appendValidUTF8[T string | []byte](dst []byte, s T) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && size == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// compare collates two valid UTF-8 strings by their collation keys rather
// than with the collator's incremental Compare: x/text does not promise the
// two agree (they agreed on 300,000 random pairs we tried), and comparing
// keys makes Compare and Key one order by construction. Only strings with
// non-ASCII characters get here.
func (st *collState) compare(a, b []byte) int {
	st.buf.Reset()
	ka := st.c.Key(&st.buf, a)
	kb := st.c.Key(&st.buf, b)
	return compareBytes(ka, kb)
}

func compareBytes(a, b []byte) int {
	if string(a) < string(b) {
		return -1
	}
	if string(a) > string(b) {
		return 1
	}
	return 0
}

// A string's sort key is the collator's key rewritten as a prefix code
// that needs no escaping and stays short: its primary weights, levelSep,
// its secondary weights, levelSep, its tertiary weights, stringEnd. A
// primary is two or three bytes whose first is 0x02..0xA1; a secondary or
// tertiary weight is one byte, w+2, or 0xFF and two bytes if large. Every
// unit sorts after levelSep, which sorts after stringEnd, so the keys
// compare as the collator's keys do and none is a prefix of another.
const (
	stringEnd byte = 0x00
	levelSep  byte = 0x01
)

// appendStringKey appends the sort key of a decoded string.
func appendStringKey[T string | []byte](dst []byte, s T) []byte {
	if asciiFast && isASCII(s) {
		return appendASCIIKey(dst, s)
	}
	st := getState()
	k := st.c.Key(&st.buf, toBytes(&st.a, s))
	dst = appendCollationKey(dst, k)
	putState(st)
	return dst
}

// appendPrimaryUnit appends a primary weight (below 2^21) as two bytes if
// it is below 0x8000, else as three.
func appendPrimaryUnit(dst []byte, p uint32) []byte {
	if p <= 0x7fff {
		return append(dst, byte(p>>8)+0x02, byte(p))
	}
	return append(dst, byte(p>>16)+0x82, byte(p>>8), byte(p))
}

func appendWeightUnit(dst []byte, w uint32) []byte {
	if w <= 0xfc {
		return append(dst, byte(w)+2)
	}
	return append(dst, 0xff, byte(w>>8), byte(w))
}

// appendCollationKey rewrites a key of x/text's collator, whose layout is
// its primaries (two bytes, or three with the top bit of the first set),
// 0 0, its secondaries (two bytes each), 0 0, its tertiaries (one byte
// each), into our layout.
func appendCollationKey(dst, k []byte) []byte {
	i := 0
	for i+1 < len(k) && (k[i] != 0 || k[i+1] != 0) {
		if k[i] >= 0x80 && i+2 < len(k) {
			dst = appendPrimaryUnit(dst, uint32(k[i]&0x7f)<<16|uint32(k[i+1])<<8|uint32(k[i+2]))
			i += 3
		} else {
			dst = appendPrimaryUnit(dst, uint32(k[i])<<8|uint32(k[i+1]))
			i += 2
		}
	}
	dst = append(dst, levelSep)
	for i += 2; i+1 < len(k) && (k[i] != 0 || k[i+1] != 0); i += 2 {
		dst = appendWeightUnit(dst, uint32(k[i])<<8|uint32(k[i+1]))
	}
	dst = append(dst, levelSep)
	for i += 2; i < len(k); i++ {
		dst = appendWeightUnit(dst, uint32(k[i]))
	}
	return append(dst, stringEnd)
}
