package collate

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// checkPair asserts Compare(a, b) == want, its antisymmetry, and that Key
// orders the pair the same way.
func checkPair(t *testing.T, a, b string, want int) {
	t.Helper()
	if got := Compare([]byte(a), []byte(b)); got != want {
		t.Errorf("Compare(%s, %s) = %d, want %d", a, b, got, want)
	}
	if got := Compare([]byte(b), []byte(a)); got != -want {
		t.Errorf("Compare(%s, %s) = %d, want %d", b, a, got, -want)
	}
	ka, err := Key([]byte(a))
	if err != nil {
		t.Fatalf("Key(%s): %v", a, err)
	}
	kb, err := Key([]byte(b))
	if err != nil {
		t.Fatalf("Key(%s): %v", b, err)
	}
	if got := bytes.Compare(ka, kb); got != want {
		t.Errorf("Key order of %s and %s = %d, want %d (keys %x, %x)", a, b, got, want, ka, kb)
	}
}

// assertAscending checks every pair of an ascending list.
func assertAscending(t *testing.T, keys []string) {
	t.Helper()
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			checkPair(t, keys[i], keys[j], -1)
		}
	}
}

// TestDocumentedOrder is the example of CouchDB's "Views Collation"
// documentation, in its order.
func TestDocumentedOrder(t *testing.T) {
	assertAscending(t, []string{
		`null`, `false`, `true`,
		`1`, `2`, `3.0`, `4`,
		`"a"`, `"A"`, `"aa"`, `"b"`, `"B"`, `"ba"`, `"bb"`,
		`["a"]`, `["b"]`, `["b","c"]`, `["b","c","a"]`, `["b","d"]`, `["b","d","e"]`,
		`{"a":1}`, `{"a":2}`, `{"b":1}`, `{"b":2}`, `{"b":2,"a":1}`, `{"b":2,"c":2}`,
	})
}

// TestASCIIOrder is the order of the printable ASCII characters that ICU
// 72's root collation (CouchDB 3.4.3's) gives. CouchDB's documentation
// lists an older order, with "^" first.
func TestASCIIOrder(t *testing.T) {
	keys := []string{`" "`}
	for _, c := range strings.Fields("_ - , ; : ! ? . ' \" ( ) [ ] { } @ * / \\ & # % ` ^ + < = > | ~ $ 0 1 2 3 4 5 6 7 8 9") {
		b, _ := json.Marshal(c)
		keys = append(keys, string(b))
	}
	for c := 'a'; c <= 'z'; c++ {
		keys = append(keys, `"`+string(c)+`"`, `"`+strings.ToUpper(string(c))+`"`)
	}
	assertAscending(t, keys)
}

func TestTypeOrder(t *testing.T) {
	assertAscending(t, []string{
		`null`, `false`, `true`, `-1e300`, `0`, `1e300`, `""`, `"~"`, `"zzz"`,
		`[]`, `[null]`, `[{}]`, `{}`, `{"":null}`,
	})
}

func TestEqualKeys(t *testing.T) {
	for _, pair := range [][2]string{
		{`1`, `1.0`}, {`1`, `1e0`}, {`1`, `10e-1`}, {`1`, `0.1E1`}, {`100`, `1e2`},
		{`0`, `-0`}, {`0`, `0.0`}, {`0`, `-0.0`}, {`0`, `0e10`}, {`-0`, `-0e-5`},
		{`-1.5`, `-15e-1`},
		// The nearest double of a long literal is the number.
		{`0.1`, `0.1000000000000000000001`},
		{`9007199254740992`, `9007199254740992.0`},
		{`9007199254740992`, `9007199254740993.0`}, // rounds to 2^53
		{`99999999999999991611392`, `1e23`},        // 1e23's exact value
		{`[1, 2]`, "[1,2]"}, {` {"a" : [ true ] } `, `{"a":[true]}`},
		{`"A"`, `"\u0041"`}, {`"\ud83d\ude00"`, `"😀"`}, {`"\/"`, `"/"`},
		// Control characters are ignorable, at every level.
		{`"a"`, `"a\u0001"`}, {`"ab"`, `"a\u0000b"`}, {`""`, `"\u0007"`},
		// Canonically equivalent strings are equal.
		{`"é"`, `"e\u0301"`}, {`"Å"`, `"\u212b"`},
		{`{"a":1}`, `{"a":1.0}`}, {`["x",{"y":[-0]}]`, `["x",{"y":[0]}]`},
	} {
		checkPair(t, pair[0], pair[1], 0)
	}
}

func TestNumbers(t *testing.T) {
	assertAscending(t, []string{
		`-1e308`, `-123456789012345678901234567890`, `-9007199254740993`,
		`-9007199254740992`, `-1.5`, `-1`, `-0.5`, `-1e-300`, `0`, `5e-324`,
		`1e-300`, `0.1`, `0.5`, `1`, `1.0000000000000002`, `1.5`, `2`, `10`,
		`11`, `100`, `9007199254740991`, `9007199254740992`,
		`9007199254740993`, `9007199254740994.0`, `99999999999999991611391`,
		`1e23`, `99999999999999991611393`, `100000000000000000000000`,
		`123456789012345678901234567890`, `1e308`,
	})
	// Exact comparison of integers and doubles, as Erlang's term order.
	checkPair(t, `9007199254740993`, `9007199254740992.0`, 1)
	checkPair(t, `18446744073709551617`, `18446744073709551616.0`, 1)
	checkPair(t, `18446744073709551616`, `18446744073709551616.0`, 0)
	checkPair(t, `-18446744073709551617`, `-18446744073709551616.0`, -1)
}

func TestStrings(t *testing.T) {
	// Base letters first; then accents; then case.
	assertAscending(t, []string{
		`""`, `" "`, `"_"`, `"-"`, `"1"`, `"10"`, `"9"`, `"a"`, `"A"`, `"á"`,
		`"Á"`, `"ab"`, `"Ab"`, `"ae"`, `"æ"`, `"b"`, `"cote"`, `"coté"`,
		`"côte"`, `"côté"`, `"e"`, `"é"`, `"ê"`, `"z"`, `"Ω"`, `"я"`, `"あ"`,
		`"一"`,
	})
	// Punctuation and spaces count (no "shifted" variable weighting).
	checkPair(t, `"a b"`, `"ab"`, -1)
	checkPair(t, `"a-b"`, `"ab"`, -1)
	checkPair(t, `"a-c"`, `"ab"`, -1)
	// Compare and CompareValues agree on escapes and invalid UTF-8.
	checkPair(t, "\"a\xffb\"", `"a\ufffdb"`, 0)
	checkPair(t, `"\ud800"`, `"\ufffd"`, 0)
}

func TestArraysAndObjects(t *testing.T) {
	assertAscending(t, []string{
		`[]`, `[null]`, `[false]`, `[1]`, `[1,null]`, `[1,"a"]`, `[2]`,
		`["a"]`, `["a",[]]`, `["a",{}]`, `["b"]`, `[[]]`, `[[1]]`, `[{}]`,
	})
	// Objects compare member by member in their order, name then value.
	assertAscending(t, []string{
		`{}`, `{"a":null}`, `{"a":1}`, `{"a":1,"a":0}`, `{"a":1,"b":0}`,
		`{"a":2}`, `{"A":0}`, `{"b":0,"a":0}`, `{"b":1}`,
	})
}

func TestDeepNesting(t *testing.T) {
	deep := func(n int, leaf string) string {
		return strings.Repeat("[", n) + leaf + strings.Repeat("]", n)
	}
	checkPair(t, deep(50, "1"), deep(50, "2"), -1)
	checkPair(t, deep(50, `"a"`), deep(50, `"a"`), 0)
	checkPair(t, deep(50, "1"), deep(51, "1"), -1)
}

func TestKeyErrors(t *testing.T) {
	for _, bad := range []string{
		``, ` `, `[`, `]`, `[1,]`, `[,1]`, `[1 2]`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,}`, `{1:2}`, `nul`, `nulll`, `True`,
		`01`, `-`, `1.`, `.5`, `1e`, `+1`, `0x1`, `NaN`, `Infinity`, `"a`, `"\x"`, `"\u12"`, `"\u12G4"`, "\"a\x01\"", "\"\t\"",
		`1 2`, `[1] x`, `'a'`, strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	} {
		if k, err := Key([]byte(bad)); err == nil {
			t.Errorf("Key(%q) = %x, want an error", bad, k)
		}
	}
}

// TestCompareMalformed: Compare does not panic on anything, and puts valid
// JSON before malformed input when it reads as far as the malformation.
func TestCompareMalformed(t *testing.T) {
	inputs := []string{``, `[`, `]`, `[1,`, `{"a"`, `{"a":`, `"abc`, `"\u12`, `-`, `1e`, `tru`, `{1:1}`, `[1 2]`, `x`, "\"\\"}
	for _, a := range inputs {
		for _, b := range append(inputs, `1`, `[1]`, `{"a":1}`) {
			Compare([]byte(a), []byte(b))
		}
	}
	for _, c := range [][2]string{{`1`, `x`}, {`[1]`, `[1,`}, {`"a"`, `"a`}, {`{"a":1}`, `{"a":1`}, {`1`, ``}} {
		if got := Compare([]byte(c[0]), []byte(c[1])); got != -1 {
			t.Errorf("Compare(%q, %q) = %d, want -1", c[0], c[1], got)
		}
		if got := Compare([]byte(c[1]), []byte(c[0])); got != 1 {
			t.Errorf("Compare(%q, %q) = %d, want 1", c[1], c[0], got)
		}
	}
}

func TestKeyIsPrefixFree(t *testing.T) {
	for _, pair := range [][2]string{
		{`"a"`, `"ab"`}, {`""`, `"a"`}, {`1`, `12`}, {`1`, `1.5`}, {`-1`, `-12`},
		{`[1]`, `[1,2]`}, {`{}`, `{"a":1}`}, {`"a"`, `"a\u0001"`},
	} {
		ka, _ := Key([]byte(pair[0]))
		kb, _ := Key([]byte(pair[1]))
		if bytes.HasPrefix(kb, ka) && !bytes.Equal(ka, kb) || bytes.HasPrefix(ka, kb) && !bytes.Equal(ka, kb) {
			t.Errorf("Key(%s) = %x and Key(%s) = %x: one is a prefix of the other", pair[0], ka, pair[1], kb)
		}
	}
}

func TestCompareValues(t *testing.T) {
	dec := func(s string) any {
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("decode %s: %v", s, err)
		}
		return v
	}
	keys := []string{
		`null`, `false`, `true`, `-1`, `0`, `1.5`, `9007199254740993`,
		`""`, `"a"`, `"A"`, `"é"`, `[]`, `["a",1]`, `["a",2]`, `[["x"]]`,
		`{}`, `{"a":1,"b":2}`, `{"b":1}`,
	}
	for i, a := range keys {
		for j, b := range keys {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := CompareValues(dec(a), dec(b)); got != want {
				t.Errorf("CompareValues(%s, %s) = %d, want %d", a, b, got, want)
			}
		}
	}
	// Go values beyond what encoding/json decodes.
	for _, c := range []struct {
		a, b any
		want int
	}{
		{1, 1.0, 0}, {int64(1), json.Number("1.0"), 0}, {uint64(1 << 63), json.Number("9223372036854775808"), 0},
		{float32(0.5), 0.5, 0}, {json.RawMessage(`["a"]`), []any{"a"}, 0},
		{[]string{"a", "b"}, []any{"a", "c"}, -1}, {struct{ A int }{1}, map[string]any{"A": 2}, -1},
		{"x", make(chan int), -1},
	} {
		if got := CompareValues(c.a, c.b); got != c.want {
			t.Errorf("CompareValues(%#v, %#v) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// TestConcurrentUse: the pooled collators are safe to share (run with
// -race), and give every goroutine the same answers.
func TestConcurrentUse(t *testing.T) {
	keys := [][]byte{[]byte(`"é"`), []byte(`["Zoë","Müller"]`), []byte(`"中文"`), []byte(`{"ñ":"ü"}`), []byte(`"a"`), []byte(`"\u00c5ngstr\u00f6m"`)}
	want := make([][]byte, len(keys))
	for i, k := range keys {
		want[i], _ = Key(k)
	}
	done := make(chan string)
	for g := 0; g < 4; g++ {
		go func() {
			msg := ""
			for n := 0; n < 200 && msg == ""; n++ {
				for i, k := range keys {
					if got, _ := Key(k); !bytes.Equal(got, want[i]) {
						msg = "Key(" + string(k) + ") changed under concurrent use"
					}
					if Compare(k, keys[(i+1)%len(keys)]) != bytes.Compare(want[i], want[(i+1)%len(keys)]) {
						msg = "Compare(" + string(k) + ", …) changed under concurrent use"
					}
				}
			}
			done <- msg
		}()
	}
	for g := 0; g < 4; g++ {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
}
