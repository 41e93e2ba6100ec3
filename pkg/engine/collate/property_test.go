package collate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/rand"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"
)

// gen makes random JSON keys meant to find where Compare and Key part
// ways: numbers written many ways around the edges of int64 and of
// doubles, strings near each other (case, accents, ignorables, prefixes)
// in raw and escaped spellings, nested containers, random white space.
type gen struct {
	r *rand.Rand
}

var trickyNumbers = []string{
	"0", "-0", "0.0", "-0.0", "0e0", "1", "1.0", "1e0", "10e-1", "1E+0", "-1",
	"1e3", "1000", "1000.0", "0.1", "0.10000000000000001", "0.1000000000000000000001",
	"1e-7", "5e-324", "2.2250738585072014e-308", "1.7976931348623157e308", "-1.7976931348623157e308",
	"9007199254740991", "9007199254740992", "9007199254740993", "9007199254740992.0",
	"9007199254740993.0", "9007199254740994", "-9007199254740993", "-9007199254740992.0",
	"4503599627370495.5", "4503599627370496", "4503599627370495",
	"9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
	"18446744073709551615", "18446744073709551616", "18446744073709551616.0", "1.8446744073709552e19",
	"1e23", "99999999999999991611392", "99999999999999991611393", "100000000000000000000000",
	"123456789012345678901234567890", "-123456789012345678901234567890", "1e308", "-1e308",
	"1e400", "-1e400", "1e-400", "0.5", "-0.5", "1.5", "15e-1", "2", "10", "11", "12", "1.2", "1.25", "-1.2", "-1.25",
}

var stringPieces = []string{
	"a", "A", "á", "Á", "b", "B", "e", "é", "e\u0301", "E", "z", "ß", "ss", "æ", "ae", "ø", "Ø",
	" ", "  ", "-", "_", ".", ",", "'", "\"", "\\", "/", "0", "1", "9", "10",
	"\u0000", "\u0001", "\u001f", "\t", "\n", "\u007f", "\u00ad", "\u200b", "\u200d", "\ufeff",
	"Ω", "ω", "ά", "я", "Я", "ё", "あ", "ア", "ｱ", "一", "丁", "中", "😀", "👍", "👍🏽", "🇫🇷",
	"\U0001F9D1\u200d\U0001F4BB", "\ufffd", "\uffff", "\U0010FFFF", "ﬁ", "ǅ", "Å", "\u212b", "ḍ̇", "ḍ̇",
	"abc", "Some Name", "id", "0123abcd",
}

func (g *gen) ws(b *strings.Builder) {
	if g.r.Intn(4) == 0 {
		for i := g.r.Intn(3); i >= 0; i-- {
			b.WriteByte(" \t\n\r"[g.r.Intn(4)])
		}
	}
}

func (g *gen) number() string {
	switch g.r.Intn(6) {
	case 0, 1:
		return trickyNumbers[g.r.Intn(len(trickyNumbers))]
	case 2: // a small integer, sometimes as a double
		n := g.r.Intn(21) - 10
		switch g.r.Intn(3) {
		case 0:
			return fmt.Sprintf("%d.0", n)
		case 1:
			return fmt.Sprintf("%de0", n)
		}
		return strconv.Itoa(n)
	case 3: // an integer of up to 30 digits
		var b strings.Builder
		if g.r.Intn(2) == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(byte('1' + g.r.Intn(9)))
		for i := g.r.Intn(30); i > 0; i-- {
			b.WriteByte(byte('0' + g.r.Intn(10)))
		}
		return b.String()
	case 4: // any double
		f := math.Float64frombits(g.r.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			f = g.r.NormFloat64()
		}
		return strconv.FormatFloat(f, "eEfg"[g.r.Intn(4)], -1, 64)
	}
	// a decimal literal with a random exponent
	return fmt.Sprintf("%d.%de%d", g.r.Intn(100)-50, g.r.Intn(1000), g.r.Intn(40)-20)
}

func (g *gen) rawString() string {
	var s strings.Builder
	for i := g.r.Intn(5); i > 0; i-- {
		switch g.r.Intn(4) {
		case 0, 1:
			s.WriteString(stringPieces[g.r.Intn(len(stringPieces))])
		case 2:
			s.WriteByte(byte(0x20 + g.r.Intn(0x5f)))
		default:
			for {
				r := rune(g.r.Intn(0x110000))
				if g.r.Intn(2) == 0 {
					r = rune(g.r.Intn(0x3000))
				}
				if utf8.ValidRune(r) {
					s.WriteRune(r)
					break
				}
			}
		}
	}
	return s.String()
}

// quote writes s as a JSON string, spelling characters at random.
func (g *gen) quote(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		esc := r < 0x20 || r == '"' || r == '\\' || g.r.Intn(6) == 0
		switch {
		case !esc:
			b.WriteRune(r)
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n' && g.r.Intn(2) == 0:
			b.WriteString(`\n`)
		case r == '/' && g.r.Intn(2) == 0:
			b.WriteString(`\/`)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(b, `\u%04x\u%04X`, r1, r2)
		default:
			fmt.Fprintf(b, `\u%04x`, r)
		}
	}
	b.WriteByte('"')
}

func (g *gen) value(b *strings.Builder, depth int) {
	g.ws(b)
	k := g.r.Intn(10)
	if depth > 3 && k >= 7 {
		k = g.r.Intn(7)
	}
	switch k {
	case 0:
		b.WriteString([]string{"null", "false", "true"}[g.r.Intn(3)])
	case 1, 2:
		b.WriteString(g.number())
	case 3, 4, 5, 6:
		g.quote(b, g.rawString())
	case 7, 8:
		b.WriteByte('[')
		for i, n := 0, g.r.Intn(4); i < n; i++ {
			if i > 0 {
				g.ws(b)
				b.WriteByte(',')
			}
			g.value(b, depth+1)
		}
		g.ws(b)
		b.WriteByte(']')
	default:
		b.WriteByte('{')
		for i, n := 0, g.r.Intn(4); i < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			g.ws(b)
			g.quote(b, stringPieces[g.r.Intn(12)])
			g.ws(b)
			b.WriteByte(':')
			g.value(b, depth+1)
		}
		g.ws(b)
		b.WriteByte('}')
	}
	g.ws(b)
}

func (g *gen) key() []byte {
	var b strings.Builder
	g.value(&b, 0)
	return []byte(b.String())
}

func genKeys(seed int64, n int) [][]byte {
	g := gen{r: rand.New(rand.NewSource(seed))}
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = g.key()
	}
	return keys
}

// TestKeyMatchesCompare is the property Key exists for: for valid keys,
// bytes.Compare of their Keys is Compare, and equal keys get equal bytes.
func TestKeyMatchesCompare(t *testing.T) {
	n := 4000
	if testing.Short() {
		n = 1000
	}
	raws := genKeys(1, n)
	keys := make([][]byte, len(raws))
	for i, raw := range raws {
		if !json.Valid(raw) {
			t.Fatalf("generator made invalid JSON: %s", raw)
		}
		k, err := Key(raw)
		if err != nil {
			t.Fatalf("Key(%s): %v", raw, err)
		}
		keys[i] = k
	}
	fails := 0
	check := func(i, j int) {
		c := Compare(raws[i], raws[j])
		if k := bytes.Compare(keys[i], keys[j]); c != k && fails < 20 {
			fails++
			t.Errorf("Compare(%s, %s) = %d but Key order %d\n keys %x\n      %x", raws[i], raws[j], c, k, keys[i], keys[j])
		}
		if r := Compare(raws[j], raws[i]); r != -c && fails < 20 {
			fails++
			t.Errorf("Compare not antisymmetric on %s, %s: %d, %d", raws[i], raws[j], c, r)
		}
	}
	// Random pairs, and every pair of neighbours in Compare's order (where
	// near-equal keys meet).
	r := rand.New(rand.NewSource(2))
	for range 50 * n {
		check(r.Intn(n), r.Intn(n))
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(x, y int) int { return Compare(raws[x], raws[y]) })
	equalRuns := 0
	for i := 1; i < n; i++ {
		check(idx[i-1], idx[i])
		if Compare(raws[idx[i-1]], raws[idx[i]]) == 0 {
			equalRuns++
		}
		// Sorting by Compare must leave the Keys sorted: Compare is
		// a consistent order, not just pairwise right.
		if bytes.Compare(keys[idx[i-1]], keys[idx[i]]) > 0 && fails < 20 {
			fails++
			t.Errorf("Keys out of order after sorting by Compare: %s then %s", raws[idx[i-1]], raws[idx[i]])
		}
	}
	t.Logf("%d keys, %d random pairs, %d neighbour pairs of which %d equal", n, 50*n, n-1, equalRuns)
}

// TestCompareValuesMatchesCompare: decoded keys compare as their JSON, once
// object members are in the order encoding/json writes a map's.
func TestCompareValuesMatchesCompare(t *testing.T) {
	raws := genKeys(3, 2000)
	vals := make([]any, len(raws))
	canon := make([][]byte, len(raws))
	for i, raw := range raws {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&vals[i]); err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
		var err error
		if canon[i], err = json.Marshal(vals[i]); err != nil {
			t.Fatalf("marshal %s: %v", raw, err)
		}
	}
	r := rand.New(rand.NewSource(4))
	fails := 0
	for range 100000 {
		i, j := r.Intn(len(raws)), r.Intn(len(raws))
		if got, want := CompareValues(vals[i], vals[j]), Compare(canon[i], canon[j]); got != want && fails < 20 {
			fails++
			t.Errorf("CompareValues(%s, %s) = %d, Compare = %d", canon[i], canon[j], got, want)
		}
	}
}

// TestASCIIFastPath pins the ASCII shortcut to the collator it stands in
// for: same order, same key bytes.
func TestASCIIFastPath(t *testing.T) {
	if !asciiFast {
		t.Fatal("the root table broke an assumption of the ASCII fast path; every string goes to the collator")
	}
	c := collate.New(language.Und)
	r := rand.New(rand.NewSource(5))
	alphabet := []byte("aAbBzZ09 -_.,'\"\\/~$^`\t\n\x00\x01\x1f\x7f")
	mk := func() string {
		b := make([]byte, r.Intn(6))
		for i := range b {
			if r.Intn(2) == 0 {
				b[i] = alphabet[r.Intn(len(alphabet))]
			} else {
				b[i] = byte(r.Intn(128))
			}
		}
		return string(b)
	}
	var buf collate.Buffer
	for range 200000 {
		a, b := mk(), mk()
		buf.Reset()
		ka := c.KeyFromString(&buf, a)
		kb := c.KeyFromString(&buf, b)
		if got, want := appendASCIIKey(nil, a), appendCollationKey(nil, ka); !bytes.Equal(got, want) {
			t.Fatalf("ASCII key of %q = %x, from the collator's %x", a, got, want)
		}
		if got, want := compareASCII(a, b), bytes.Compare(ka, kb); got != want {
			t.Fatalf("compareASCII(%q, %q) = %d, collator keys say %d", a, b, got, want)
		}
	}
}

// TestNumbersAgainstOracle compares numbers around the places where
// doubles and integers part (2^53, 2^63, 2^64, 1e23, the double range's
// ends) with an independent exact oracle, big.Rat, through both Compare
// and Key.
func TestNumbersAgainstOracle(t *testing.T) {
	lits := slices.Clone(trickyNumbers)
	for _, s := range trickyNumbers {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) {
			continue
		}
		for _, g := range []float64{f, math.Nextafter(f, math.Inf(1)), math.Nextafter(f, math.Inf(-1))} {
			if math.IsInf(g, 0) {
				continue
			}
			lits = append(lits, strconv.FormatFloat(g, 'g', -1, 64), strconv.FormatFloat(g, 'e', 20, 64))
			if g == math.Trunc(g) && !strings.ContainsAny(s, ".eE") {
				continue
			}
			if g == math.Trunc(g) { // the double's exact integer, and its neighbours
				bi, _ := new(big.Float).SetFloat64(g).Int(nil)
				for _, d := range []int64{-1, 0, 1} {
					lits = append(lits, new(big.Int).Add(bi, big.NewInt(d)).String())
				}
			}
		}
	}
	oracle := func(s string) (r *big.Rat, inf int) {
		if !strings.ContainsAny(s, ".eE") {
			r, _ = new(big.Rat).SetString(s)
			return r, 0
		}
		f, _ := strconv.ParseFloat(s, 64)
		if math.IsInf(f, 0) {
			return nil, int(math.Copysign(1, f))
		}
		return new(big.Rat).SetFloat64(f), 0
	}
	cmpOracle := func(a, b string) int {
		ra, ia := oracle(a)
		rb, ib := oracle(b)
		if ia != 0 || ib != 0 {
			return cmpInt(int64(ia), int64(ib))
		}
		return ra.Cmp(rb)
	}
	keys := make([][]byte, len(lits))
	for i, s := range lits {
		var err error
		if keys[i], err = Key([]byte(s)); err != nil {
			t.Fatalf("Key(%s): %v", s, err)
		}
	}
	fails := 0
	for i, a := range lits {
		for j, b := range lits {
			want := cmpOracle(a, b)
			got := Compare([]byte(a), []byte(b))
			k := bytes.Compare(keys[i], keys[j])
			if (got != want || k != want) && fails < 20 {
				fails++
				t.Errorf("%s vs %s: exact %d, Compare %d, Key %d", a, b, want, got, k)
			}
		}
	}
	t.Logf("%d numbers, %d pairs", len(lits), len(lits)*len(lits))
}

// TestKeyValidatesAsEncodingJSON: Key accepts exactly what json.Valid
// accepts, tried on keys mangled at random.
func TestKeyValidatesAsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewSource(6))
	junk := []byte(`[]{}",:\\ -+.eE0123456789nultrfase` + "\x00\x01\x1f\x7f\xff\xc3")
	raws := genKeys(8, 3000)
	accepted := 0
	for _, raw := range raws {
		for range 5 {
			m := slices.Clone(raw)
			for n := r.Intn(3) + 1; n > 0 && len(m) > 0; n-- {
				i := r.Intn(len(m))
				switch r.Intn(3) {
				case 0:
					m = slices.Delete(m, i, i+1)
				case 1:
					m = slices.Insert(m, i, junk[r.Intn(len(junk))])
				default:
					m[i] = junk[r.Intn(len(junk))]
				}
			}
			_, err := Key(m)
			if valid := json.Valid(m); valid != (err == nil) {
				t.Errorf("json.Valid(%q) = %v but Key's error is %v", m, valid, err)
			} else if valid {
				accepted++
			}
			Compare(m, raw) // must not panic
		}
	}
	t.Logf("%d mangled keys, %d of them still valid", 5*len(raws), accepted)
}

// FuzzKey checks, on whatever the fuzzer finds, that Key accepts what
// json.Valid accepts and orders valid keys as Compare does.
func FuzzKey(f *testing.F) {
	for _, s := range []string{`null`, `[1,"a"]`, `{"a":[true]}`, `"é"`, `-0.0`, `1e23`, `[{"b":2,"a":1}]`, `"\u00e9"`} {
		f.Add([]byte(s), []byte(`["a",1]`))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		c := Compare(a, b)
		ka, erra := Key(a)
		kb, errb := Key(b)
		if json.Valid(a) != (erra == nil) || json.Valid(b) != (errb == nil) {
			t.Fatalf("Key and json.Valid disagree on %q or %q", a, b)
		}
		if erra == nil && errb == nil && bytes.Compare(ka, kb) != c {
			t.Fatalf("Compare(%q, %q) = %d, Key order %d", a, b, c, bytes.Compare(ka, kb))
		}
	})
}
