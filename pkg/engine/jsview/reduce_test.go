package jsview

import (
	"errors"
	"math"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/dop251/goja"
)

// rowsKV builds rows from "key value" JSON pairs.
func rowsKV(pairs ...string) []Row {
	var rows []Row
	for i := 0; i+1 < len(pairs); i += 2 {
		rows = append(rows, Row{ID: "d", Key: []byte(pairs[i]), Value: []byte(pairs[i+1])})
	}
	return rows
}

func values(vs ...string) []Row {
	var rows []Row
	for _, v := range vs {
		rows = append(rows, Row{ID: "d", Key: []byte(`"k"`), Value: []byte(v)})
	}
	return rows
}

func reduced(t *testing.T, fn string, rows []Row, level int) []string {
	t.Helper()
	out, err := Reduce(fn, rows, level)
	if err != nil {
		t.Fatalf("%s: %v", fn, err)
	}
	return rowsOf(out)
}

// The expectations below are what CouchDB 3.4.3 answered for the same
// values (group=false).
func TestSumAsCouchDB(t *testing.T) {
	cases := []struct {
		in   []string
		want string
	}{
		{[]string{"1.5", "1.5"}, "3.0"},
		{[]string{"1e+21"}, "1e+21"},
		{[]string{"0.1", "0.2"}, "0.30000000000000004"},
		{[]string{"1e-7"}, "1e-7"},
		{[]string{"1", "2", "3"}, "6"},
		{[]string{"100000000000000000000", "100000000000000000000"}, "200000000000000000000"},
		{[]string{"[1,2]", "[3]"}, "[4,2]"},
		{[]string{`{"x":1,"y":{"z":2}}`, `{"x":2.5}`}, `{"x":3.5,"y":{"z":2}}`},
		{[]string{"12345678901234567000", "12345678901234567000"}, "24691357802469134000"},
		{[]string{"2.5e-320"}, "2.5e-320"},
		{[]string{"0.5", "0.5", "-1"}, "0.0"},
		{[]string{"0", "0"}, "0"},
		{[]string{"2", "1.5", "1"}, "4.5"},
		{[]string{"5", "[1,2]"}, "[6,2]"},
		{[]string{`{"b":1,"a":{"d":1,"c":2}}`}, `{"b":1,"a":{"d":1,"c":2}}`},
		{[]string{`{"b":1,"a":{"d":1,"c":2}}`, `{"b":2}`}, `{"a":{"d":1,"c":2},"b":3}`},
		{[]string{"[1,2.5]", `[1.5,"x"]`}, `{"error":"builtin_reduce_error","reason":"` + sumErrorReason + `","caused_by":[2.5]}`},
		{[]string{`"a"`, `"b"`}, `{"error":"builtin_reduce_error","reason":"` + sumErrorReason + `","caused_by":"a"}`},
		{[]string{"1", "null", "2"}, `{"error":"builtin_reduce_error","reason":"` + sumErrorReason + `","caused_by":null}`},
	}
	for _, c := range cases {
		got := reduced(t, "_sum", values(c.in...), GroupAll)
		if want := []string{"null " + c.want}; !reflect.DeepEqual(got, want) {
			t.Errorf("_sum %v:\n got %q\nwant %q", c.in, got, want)
		}
	}
	// An object after a number is a case_clause in CouchDB: the query fails.
	if _, err := Reduce("_sum", values(`1`, `{"a":1}`), GroupAll); err == nil {
		t.Error("number then object: no error")
	}
	if _, err := Reduce("_sum", values(`1e308`, `1e308`), GroupAll); err == nil {
		t.Error("overflow: no error")
	}
}

func TestStatsAsCouchDB(t *testing.T) {
	cases := []struct {
		in   []string
		want string
	}{
		{[]string{"1.5", "1.5"}, `{"sum":3.0,"count":2,"min":1.5,"max":1.5,"sumsqr":4.5}`},
		{[]string{"1e+21"}, `{"sum":1e+21,"count":1,"min":1e+21,"max":1e+21,"sumsqr":1e+42}`},
		{[]string{"0.1", "0.2"}, `{"sum":0.30000000000000004,"count":2,"min":0.1,"max":0.2,"sumsqr":0.05000000000000001}`},
		{[]string{"1e-7"}, `{"sum":1e-7,"count":1,"min":1e-7,"max":1e-7,"sumsqr":9.999999999999998e-15}`},
		{[]string{"1", "2", "3"}, `{"sum":6,"count":3,"min":1,"max":3,"sumsqr":14}`},
		{[]string{"12345678901234567000", "12345678901234567000"}, `{"sum":24691357802469134000,"count":2,"min":12345678901234567000,"max":12345678901234567000,"sumsqr":304831575064776691053193511354978000000}`},
		{[]string{"2.5e-320"}, `{"sum":2.5e-320,"count":1,"min":2.5e-320,"max":2.5e-320,"sumsqr":0.0}`},
		{[]string{"0.5", "0.5", "-1"}, `{"sum":0.0,"count":3,"min":-1,"max":0.5,"sumsqr":1.5}`},
		{[]string{`{"sum":3,"count":2,"min":1,"max":2,"sumsqr":5}`, "4"}, `{"sum":7,"count":3,"min":1,"max":4,"sumsqr":21}`},
		{[]string{"2", "1.5", "1"}, `{"sum":4.5,"count":3,"min":1,"max":2,"sumsqr":7.25}`},
		{[]string{"[1,2]", "[3,4]"}, `[{"sum":4,"count":2,"min":1,"max":3,"sumsqr":10},{"sum":6,"count":2,"min":2,"max":4,"sumsqr":20}]`},
	}
	for _, c := range cases {
		got := reduced(t, "_stats", values(c.in...), GroupAll)
		if want := []string{"null " + c.want}; !reflect.DeepEqual(got, want) {
			t.Errorf("_stats %v:\n got %q\nwant %q", c.in, got, want)
		}
	}
	// CouchDB fails these queries.
	for _, in := range [][]string{
		{"1e300", "1e300"},        // badarith
		{"[1,2]", "[3]"},          // arrays of different lengths
		{`"a"`},                   // not a number
		{"1", `"a"`},              // not a number
		{`{"x":1}`},               // not pre-aggregated stats
		{`{"sum":"1","count":1}`}, // non-numeric field
	} {
		if _, err := Reduce("_stats", values(in...), GroupAll); err == nil {
			t.Errorf("_stats %v: no error", in)
		}
	}
}

func TestGrouping(t *testing.T) {
	rows := rowsKV(
		`["a",1,"x"]`, `1`,
		`["a",1,"y"]`, `2`,
		`["a",2]`, `3`,
		`["b"]`, `4`,
		`"c"`, `5`,
		`"c"`, `6`,
	)
	cases := []struct {
		fn    string
		level int
		want  []string
	}{
		{"_count", GroupAll, []string{`null 6`}},
		{"_sum", GroupAll, []string{`null 21`}},
		{"_count", GroupExact, []string{`["a",1,"x"] 1`, `["a",1,"y"] 1`, `["a",2] 1`, `["b"] 1`, `"c" 2`}},
		{"_sum", 1, []string{`["a"] 6`, `["b"] 4`, `"c" 11`}},
		{"_sum", 2, []string{`["a",1] 3`, `["a",2] 3`, `["b"] 4`, `"c" 11`}},
		{"_sum", 9, []string{`["a",1,"x"] 1`, `["a",1,"y"] 2`, `["a",2] 3`, `["b"] 4`, `"c" 11`}},
		{"_approx_count_distinct", GroupAll, []string{`null 5`}},
		{"_approx_count_distinct", 1, []string{`["a"] 3`, `["b"] 1`, `"c" 1`}},
		{"_stats", 1, []string{`["a"] {"sum":6,"count":3,"min":1,"max":3,"sumsqr":14}`, `["b"] {"sum":4,"count":1,"min":4,"max":4,"sumsqr":16}`, `"c" {"sum":11,"count":2,"min":5,"max":6,"sumsqr":61}`}},
		{"_count\n", 1, []string{`["a"] 3`, `["b"] 1`, `"c" 2`}}, // built-ins match by prefix
	}
	for _, c := range cases {
		if got := reduced(t, c.fn, rows, c.level); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s level %d:\n got %q\nwant %q", c.fn, c.level, got, c.want)
		}
	}
	if out, err := Reduce("_count", nil, GroupAll); err != nil || out != nil {
		t.Errorf("no rows: %v %v", out, err)
	}
	if _, err := Reduce("function(k, v, re) { return sum(v); }", rows, GroupAll); !errors.Is(err, ErrJSReduce) {
		t.Errorf("JS reduce: %v", err)
	}
	if _, err := Reduce("_count", rows, -2); err == nil {
		t.Error("bad level: no error")
	}
}

func TestDesignReduce(t *testing.T) {
	d, err := Compile([]byte(`{"_id":"_design/r","views":{
		"by_type": {"map": "function(doc) { emit([doc.type, doc.n], doc.n); }", "reduce": "_sum"},
		"plain": {"map": "function(doc) { emit(doc._id, null); }"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	var rows []Row
	for _, doc := range []string{`{"_id":"1","type":"a","n":1}`, `{"_id":"2","type":"a","n":2}`, `{"_id":"3","type":"b","n":4}`} {
		r, err := d.Map("by_type", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r...)
	}
	got, err := d.Reduce("by_type", rows, 1)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{`["a"] 3`, `["b"] 4`}; !reflect.DeepEqual(rowsOf(got), want) {
		t.Errorf("%q, want %q", rowsOf(got), want)
	}
	if _, err := d.Reduce("plain", rows, 0); err == nil {
		t.Error("view without reduce: no error")
	}
}

// TestNumberFormat checks jsNumber against goja's own Number#toString.
func TestNumberFormat(t *testing.T) {
	rt := goja.New()
	str, _ := goja.AssertFunction(rt.Get("String"))
	rnd := rand.New(rand.NewSource(1))
	check := func(f float64) {
		v, err := str(goja.Undefined(), rt.ToValue(f))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := jsNumber(f), v.String(); got != want {
			t.Errorf("%v: %s, want %s", f, got, want)
		}
	}
	for _, f := range []float64{1, -1, 0.1, 1e21, 1e20, 123e-20, 1.5e-7, 1e-6, 1e-7, 5e-324, math.MaxFloat64, 1 << 53, 0.000001234, 123456789.125} {
		check(f)
		check(-f)
	}
	for i := 0; i < 20000; i++ {
		check(math.Float64frombits(rnd.Uint64()&^(0x7ff<<52) | uint64(rnd.Intn(0x7ff))<<52))
		check(math.Ldexp(float64(rnd.Int63n(1<<60)), -rnd.Intn(70)))
	}
	for f, want := range map[float64]string{3: "3.0", 0: "0.0", math.Copysign(0, -1): "0.0", 1e21: "1e+21", 0.5: "0.5", 2e20: "200000000000000000000.0"} {
		if got := couchFloat(f); got != want {
			t.Errorf("couchFloat(%v) = %s, want %s", f, got, want)
		}
	}
}

func TestParseEncode(t *testing.T) {
	for in, want := range map[string]string{
		` { "a" : [ 1 , 2.0 , -0 , 1E2 , "x\/y\u00e9\ud83d\ude00\u0001" ] , "b" : null } `: `{"a":[1,2.0,0,100.0,"x/yé😀\u0001"],"b":null}`,
		`"\ud800"`:     `"` + "\uFFFD" + `"`,
		`[true,false]`: `[true,false]`,
		`{}`:           `{}`,
		`[]`:           `[]`,
	} {
		v, err := parseValue([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got := string(v.encode()); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
	for _, bad := range []string{``, `[1,]`, `{"a"}`, `tru`, `"abc`, `1 2`, `{"a":1,}`} {
		if _, err := parseValue([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if got := string(couchRaw([]byte(`["\u001f\u00e9",-5e-324,"5e-324"]`))); got != `["\u001Fé",0.0,"5e-324"]` {
		t.Errorf("couchRaw: %s", got)
	}
	if !strings.Contains(string(couchRaw([]byte(`"\ud800x"`))), "\uFFFD") {
		t.Error("couchRaw: lone surrogate kept")
	}
}
