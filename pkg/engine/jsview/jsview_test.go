package jsview

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// design compiles a design document with the given view name → map source.
func design(t *testing.T, views map[string]string, opts ...Option) *Design {
	t.Helper()
	var parts []string
	for name, src := range views {
		parts = append(parts, fmt.Sprintf("%q:{\"map\":%q}", name, src))
	}
	d, err := Compile([]byte(`{"_id":"_design/t","language":"javascript","views":{`+strings.Join(parts, ",")+`}}`), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// rowsOf renders rows as "key value" lines, the bytes exactly as produced.
func rowsOf(rows []Row) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, string(r.Key)+" "+string(r.Value))
	}
	return out
}

func mapOne(t *testing.T, d *Design, view, doc string) []string {
	t.Helper()
	rows, err := d.Map(view, []byte(doc))
	if err != nil {
		t.Fatalf("%s: %v", view, err)
	}
	for _, r := range rows {
		var id string
		if i := strings.Index(doc, `"_id":"`); i >= 0 {
			id = doc[i+7:]
			id = id[:strings.IndexByte(id, '"')]
		}
		if r.ID != id {
			t.Errorf("%s: row id %q, want %q", view, r.ID, id)
		}
	}
	return rowsOf(rows)
}

// repoDesignFiles are the repository's design documents: portreqd's own
// and the Kazoo-compatible ones (views/).
func repoDesignFiles(t *testing.T) []string {
	t.Helper()
	own, err := filepath.Glob("../../../views/portreqd/*.json")
	if err != nil || len(own) == 0 {
		t.Fatalf("no design documents in views/portreqd: %v", err)
	}
	kazoo, err := filepath.Glob("../../../views/kazoo/*/*.json")
	if err != nil {
		t.Fatal(err)
	}
	kazoo = slices.DeleteFunc(kazoo, func(f string) bool { return strings.Contains(f, "/testdata/") })
	if len(kazoo) == 0 {
		t.Fatal("no design documents in views/kazoo")
	}
	return append(own, kazoo...)
}

func TestRepoDesignDocumentsCompile(t *testing.T) {
	files := repoDesignFiles(t)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Compile(b)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !strings.HasPrefix(d.ID(), "_design/") || len(d.Views()) == 0 {
			t.Errorf("%s: id %q, %d views", f, d.ID(), len(d.Views()))
		}
	}
}

func TestPortRequestFixture(t *testing.T) {
	dd, err := os.ReadFile("../../../views/portreqd/port_requests.json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Compile(dd)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../porting/storetest/testdata/kazoo_port_request.json")
	if err != nil {
		t.Fatal(err)
	}
	rows, skipped, err := d.MapAll(doc)
	if err != nil || skipped != nil {
		t.Fatal(err, skipped)
	}
	const acct, master = `"8a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d"`, `"1f2e3d4c5b6a79881f2e3d4c5b6a7988"`
	want := map[string][]string{
		// [revision, account]: the fixture as read from disk has no _rev.
		"listing_by_state":            {`[` + acct + `,"submitted",63720000500] [null,` + acct + `]`},
		"listing_by_descendant_state": {`[` + master + `,"submitted",63720000500] [null,` + acct + `]`, `[` + acct + `,"submitted",63720000500] [null,` + acct + `]`},
		"listing_by_authority_state":  {`[` + master + `,"submitted",63720000500] [null,` + acct + `]`},
		"completion_intents":          {}, // no intent
		"outbox":                      {}, // Kazoo's document has no portreqd events
		"listing_by_modified":         {`[63720000500,"submitted"] null`},
		"all_port_in_numbers":         {`[` + acct + `,"+12025550123"] null`, `[` + acct + `,"+12025550124"] null`},
		"listing_by_number":           {`"+12025550123" ` + acct, `"+12025550124" ` + acct},
		"port_in_numbers":             {`"+12025550123" ` + acct, `"+12025550124" ` + acct},
	}
	if len(rows) != len(want) {
		t.Fatalf("views %d, want %d", len(rows), len(want))
	}
	for view, w := range want {
		if got := rowsOf(rows[view]); !reflect.DeepEqual(got, w) {
			t.Errorf("%s:\n got %q\nwant %q", view, got, w)
		}
		for _, r := range rows[view] {
			if r.ID != "5d1d3b3e0f6a4c2e9e8b7a6c5d4e3f21" {
				t.Errorf("%s: id %q", view, r.ID)
			}
		}
	}
}

// TestEncodingAsCouchDB checks emitted JSON against what CouchDB 3.4.3 was
// seen returning for the same emits.
func TestEncodingAsCouchDB(t *testing.T) {
	d := design(t, map[string]string{
		"nums":   `function(doc){ emit([1e21, 1.5e-7, 0.1, 1/3, -0, 2e300*10, 1e308*10, 0/0, 12345678901234567890, 1.0, 100, 1e20, 123456789.125, 5e-324, 1e-323], null); }`,
		"strs":   `function(doc){ emit(['a/b', '\u0001\u001f\u007f', '\ud800', '\udc00x', 'é€😀', '\u2028', '\n\t\r\b\f', '"\\'], null); }`,
		"undef":  `function(doc){ emit(undefined, undefined); emit([undefined, function(){}, null], {a: undefined, b: function(){}, c: 1}); emit(); }`,
		"date":   `function(doc){ emit(new Date(0), doc.nested); emit(doc.big, doc.flt); }`,
		"order":  `function(doc){ var k = []; for (var n in doc.nums) k.push(n); emit(k, Object.keys(doc.nums)); emit(doc.nums, null); }`,
		"object": `function(doc){ emit({'b': 1, 'a': [2, {'d': 3, 'c': 4}]}, doc); }`,
	})
	doc := `{"_id":"d1","nested":{"a":[1,{"b":2}]},"big":12345678901234567890,"flt":1.0,"nums":{"b":1,"10":1,"2":1,"+1202":1,"a":1,"4294967296":1,"1":1}}`
	cases := map[string][]string{
		"nums":  {`[1e+21,1.5e-7,0.1,0.3333333333333333,0,2e+301,null,null,12345678901234567000,1,100,100000000000000000000,123456789.125,0.0,1e-323] null`},
		"strs":  {`["a/b","\u0001\u001F` + "\x7f" + `","` + "\uFFFD" + `","` + "\uFFFD" + `x","é€😀","` + "\u2028" + `","\n\t\r\b\f","\"\\"] null`},
		"undef": {`null null`, `[null,null,null] {"c":1}`, `null null`},
		"date":  {`"1970-01-01T00:00:00.000Z" {"a":[1,{"b":2}]}`, `12345678901234567000 1`},
		"order": {
			`["1","2","10","b","+1202","a","4294967296"] ["1","2","10","b","+1202","a","4294967296"]`,
			`{"1":1,"2":1,"10":1,"b":1,"+1202":1,"a":1,"4294967296":1} null`,
		},
		"object": {`{"b":1,"a":[2,{"d":3,"c":4}]} ` + `{"_id":"d1","nested":{"a":[1,{"b":2}]},"big":12345678901234567000,"flt":1,"nums":{"1":1,"2":1,"10":1,"b":1,"+1202":1,"a":1,"4294967296":1}}`},
	}
	for view, want := range cases {
		if got := mapOne(t, d, view, doc); !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %q\nwant %q", view, got, want)
		}
	}
}

func TestSandbox(t *testing.T) {
	var mu sync.Mutex
	var logged []string
	d := design(t, map[string]string{
		"frozen":  `function(doc){ doc.x = 5; doc.nested.y = 1; delete doc.a; doc.arr[0] = 9; emit(doc.x, [doc.nested.y, doc.a, doc.arr[0], doc.arr.length]); }`,
		"push":    `function(doc){ doc.arr.push(1); emit('pushed', doc.arr); }`,
		"helpers": `function(doc){ emit('sum', [sum([1,2,3]), sum(['a',1]), sum([]), sum(doc.arr)]); emit('isArray', [isArray([]), isArray({}), isArray(doc.arr), isArray('x'), Array.isArray(doc.arr)]); emit('toJSON', toJSON({a:[1,undefined]})); emit('JSON', JSON.parse(JSON.stringify(doc.nested))); log('hi'); log({a:1}); log(undefined); }`,
		"globals": `function(doc){ for (i in doc.nested) emit(i, typeof i); emit('typeof', [typeof emit, typeof log, typeof sum, typeof isArray, typeof toJSON, typeof JSON]); }`,
		"arrays":  `function(doc){ var t = doc.arr.slice(0); t.push(3); for (var i in doc.arr) emit(['in', i], doc.arr[i]); emit('concat', doc.arr.concat([4])); emit('same', doc.nested === doc.nested); emit('t', t); emit('idx', [doc.arr.indexOf(2), 'a' in doc, doc.hasOwnProperty('arr'), doc.arr instanceof Array]); }`,
		"freeze":  `function(doc){ emit(Object.isFrozen(doc), [Object.isFrozen(doc.arr), Object.isExtensible(doc.nested), Object.freeze(doc) === doc, Object.isFrozen(Object.freeze({})), Object.isFrozen({}), Object.isExtensible({})]); }`,
		"kazoo":   `function(doc) { if (doc.pvt_type != 'account' || doc.pvt_deleted) return; var name = doc.name.toLowerCase(); name = name.replace(/[^a-z0-9]/g, ''); emit(name, {'id': doc._id, 'n': parseInt(doc.prefix), 'flags': doc.flags || []}); }`,
	}, WithLog(func(view, id, msg string) {
		mu.Lock()
		logged = append(logged, view+" "+id+" "+msg)
		mu.Unlock()
	}))
	doc := `{"_id":"s1","_rev":"1-abc","a":1,"arr":[1,2],"nested":{"p":1,"q":2},"pvt_type":"account","name":"Acme Corp-1","prefix":"0441"}`
	cases := map[string][]string{
		"frozen":  {`null [null,1,1,2]`},
		"helpers": {`"sum" [6,"0a1",0,3]`, `"isArray" [true,false,true,false,true]`, `"toJSON" "{\"a\":[1,null]}"`, `"JSON" {"p":1,"q":2}`},
		"globals": {`"p" "string"`, `"q" "string"`, `"typeof" ["function","function","function","function","function","object"]`},
		"arrays":  {`["in","0"] 1`, `["in","1"] 2`, `"concat" [1,2,4]`, `"same" true`, `"t" [1,2,3]`, `"idx" [1,true,true,true]`},
		"kazoo":   {`"acmecorp1" {"id":"s1","n":441,"flags":[]}`},
		"freeze":  {`true [true,false,true,true,false,true]`},
	}
	for view, want := range cases {
		if got := mapOne(t, d, view, doc); !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %q\nwant %q", view, got, want)
		}
	}
	// push on the frozen document throws: the document is skipped there.
	_, err := d.Map("push", []byte(doc))
	var me *MapError
	if !errors.As(err, &me) || me.View != "push" || me.DocID != "s1" || me.Fatal || !strings.HasPrefix(me.Message, "TypeError") {
		t.Errorf("push: %#v", err)
	}
	wantLog := []string{`helpers s1 hi`, `helpers s1 {"a":1}`, `helpers s1 undefined`}
	if !reflect.DeepEqual(logged, wantLog) {
		t.Errorf("log: %q, want %q", logged, wantLog)
	}
}

func TestSkippedViews(t *testing.T) {
	d := design(t, map[string]string{
		"ok":     `function(doc){ emit(doc._id, 1); }`,
		"throws": `function(doc){ if (doc._id == 'bad') doc.missing.x; emit(doc._id, 2); }`,
		"fatal":  `function(doc){ if (doc._id == 'bad') throw 'fatal_error'; emit(doc._id, 3); }`,
		"fatal2": `function(doc){ if (doc._id == 'bad') throw ['fatal', 'x', 'y']; emit(doc._id, 4); }`,
		"custom": `function(doc){ if (doc._id == 'bad') throw {error: 'nope'}; emit(doc._id, 5); }`,
		"cyclic": `function(doc){ var a = {}; a.a = a; emit(doc._id, doc._id == 'bad' ? a : 6); }`,
		"deep":   `function(doc){ function f(n) { return n == 0 ? 0 : 1 + f(n - 1); } emit(doc._id, doc._id == 'bad' ? f(1e6) : 7); }`,
	})
	rows, skipped, err := d.MapAll([]byte(`{"_id":"good"}`))
	if err != nil || skipped != nil {
		t.Fatal(err, skipped)
	}
	if len(rows) != 7 {
		t.Fatalf("%d views", len(rows))
	}
	rows, skipped, err = d.MapAll([]byte(`{"_id":"bad"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := rowsOf(rows["ok"]); !reflect.DeepEqual(got, []string{`"bad" 1`}) {
		t.Errorf("ok: %q", got)
	}
	want := map[string]struct {
		msg   string
		fatal bool
	}{
		"throws": {"TypeError: Cannot read property 'x' of undefined", false},
		"fatal":  {`"fatal_error"`, true},
		"fatal2": {`["fatal","x","y"]`, true},
		"custom": {`{"error":"nope"}`, false},
		"cyclic": {"TypeError: Converting circular structure to JSON", false},
		"deep":   {"RangeError: Maximum call stack size exceeded", false},
	}
	if len(skipped) != len(want) {
		t.Errorf("skipped %v", skipped)
	}
	for view, w := range want {
		e := skipped[view]
		if e == nil {
			t.Errorf("%s: not skipped", view)
			continue
		}
		if e.View != view || e.DocID != "bad" || e.Message != w.msg || e.Fatal != w.fatal {
			t.Errorf("%s: %+v, want %q fatal=%v", view, *e, w.msg, w.fatal)
		}
		if rows[view] != nil {
			t.Errorf("%s: rows %q", view, rowsOf(rows[view]))
		}
		if !strings.Contains(e.Error(), "doc._id bad") {
			t.Errorf("%s: %v", view, e)
		}
	}
}

func TestTimeout(t *testing.T) {
	d := design(t, map[string]string{
		"a": `function(doc){ emit(1, 1); }`,
		"b": `function(doc){ if (doc._id == 'loop') for (;;) {} emit(2, 2); }`,
		"c": `function(doc){ emit(3, 3); }`,
	}, WithTimeout(100*time.Millisecond))
	start := time.Now()
	rows, skipped, err := d.MapAll([]byte(`{"_id":"loop"}`))
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v", el)
	}
	if len(rows["a"]) != 1 || skipped["b"] == nil || !skipped["b"].Fatal || skipped["c"] == nil || !skipped["c"].Fatal {
		t.Errorf("rows %v skipped %v", rows, skipped)
	}
	// The next document maps normally.
	rows, skipped, err = d.MapAll([]byte(`{"_id":"next"}`))
	if err != nil || skipped != nil || len(rows["b"]) != 1 || len(rows["c"]) != 1 {
		t.Errorf("after timeout: %v %v %v", rows, skipped, err)
	}
}

func TestCompileErrors(t *testing.T) {
	cases := map[string]string{
		`{"_id":"_design/x","views":{"broken":{"map":"function(doc) { emit(doc._id, }"}}}`:    `view "broken": map function does not compile`,
		`{"_id":"_design/x","views":{"notfun":{"map":"42"}}}`:                                 `view "notfun": map function: expression does not evaluate to a function`,
		`{"_id":"_design/x","views":{"nomap":{"reduce":"_count"}}}`:                           `view "nomap": no map function`,
		`{"_id":"_design/x","views":{"red":{"map":"function(doc){}","reduce":"_median"}}}`:    `unknown built-in reduce "_median"`,
		`{"_id":"_design/x","language":"query","views":{"m":{"map":{"fields":{"a":"asc"}}}}}`: `not javascript`,
		`{"_id":"_design/x","views":{"bad":{"map":17}}}`:                                      `view "bad": map must be a string`,
		`not json`: `design document`,
	}
	for src, want := range cases {
		_, err := Compile([]byte(src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", src, err, want)
		}
	}
	if _, err := Compile([]byte(`{"language":"query"}`)); !errors.Is(err, ErrNotJavaScript) {
		t.Errorf("query: %v", err)
	}
}

func TestFunctionForms(t *testing.T) {
	// Kazoo keeps functions as arrays of lines; CouchDB's own accept named
	// functions, trailing semicolons and comments.
	dd := `{"_id":"_design/forms","views":{
		"lines": {"map": ["function(doc) {", "  // a comment", "  for (i in doc.numbers) {", "    emit(i, null);", "  }", "}"]},
		"named": {"map": "function mapper(doc) { emit(1, null); };  "},
		"comment": {"map": "function(doc) { emit(2, null); } // trailing"},
		"script": {"map": "var helper = function(x) { return x * 2; }; (function(doc) { emit(helper(3), null); })"},
		"lib": {"utils": "exports.x = 1;"}
	}}`
	d, err := Compile([]byte(dd))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(d.Views()); n != 4 {
		t.Errorf("%d views (lib is not a view)", n)
	}
	rows, skipped, err := d.MapAll([]byte(`{"_id":"f","numbers":{"+1":{},"+2":{}}}`))
	if err != nil || skipped != nil {
		t.Fatal(err, skipped)
	}
	want := map[string][]string{"lines": {`"+1" null`, `"+2" null`}, "named": {`1 null`}, "comment": {`2 null`}, "script": {`6 null`}}
	for v, w := range want {
		if got := rowsOf(rows[v]); !reflect.DeepEqual(got, w) {
			t.Errorf("%s: %q, want %q", v, got, w)
		}
	}
}

func TestDocumentsNotMapped(t *testing.T) {
	d := design(t, map[string]string{"all": `function(doc){ emit(doc._id, null); }`})
	for _, doc := range []string{
		`{"_id":"_design/other","views":{}}`,
		`{"_id":"gone","_rev":"2-x","_deleted":true}`,
		`{"_id":"_local/x"}`,
	} {
		rows, skipped, err := d.MapAll([]byte(doc))
		if err != nil || skipped != nil || rows["all"] != nil {
			t.Errorf("%s: %v %v %v", doc, rows, skipped, err)
		}
	}
	inc, err := Compile([]byte(`{"_id":"_design/inc","options":{"include_design":true},"views":{"all":{"map":"function(doc){ emit(doc._id, null); }"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if rows, _, _ := inc.MapAll([]byte(`{"_id":"_design/other"}`)); len(rows["all"]) != 1 {
		t.Errorf("include_design: %v", rows)
	}
	for _, doc := range []string{`not json`, `[1]`, `{"a":1}`, `{"_id":5}`, `{"_id":"x"} trailing`} {
		if _, _, err := d.MapAll([]byte(doc)); err == nil {
			t.Errorf("%s: no error", doc)
		}
	}
	if _, err := d.Map("nope", []byte(`{"_id":"x"}`)); err == nil {
		t.Error("unknown view: no error")
	}
}

func TestDuplicateMembers(t *testing.T) {
	// JSON.parse keeps the first position and the last value.
	d := design(t, map[string]string{"v": `function(doc){ emit(Object.keys(doc), doc.a); }`})
	got := mapOne(t, d, "v", `{"_id":"x","a":1,"b":2,"a":3}`)
	if want := []string{`["_id","a","b"] 3`}; !reflect.DeepEqual(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
}

// TestConcurrentWriters maps from many goroutines at once (run with -race)
// and expects what a single goroutine gets.
func TestConcurrentWriters(t *testing.T) {
	dd, err := os.ReadFile("../../../views/portreqd/port_requests.json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Compile(dd)
	if err != nil {
		t.Fatal(err)
	}
	fixture, err := os.ReadFile("../../porting/storetest/testdata/kazoo_port_request.json")
	if err != nil {
		t.Fatal(err)
	}
	docs := make([][]byte, 64)
	want := make([]map[string][]Row, len(docs))
	for i := range docs {
		docs[i] = []byte(strings.Replace(string(fixture), `"submitted"`, fmt.Sprintf(`"state%d"`, i%5), 1))
		docs[i] = []byte(strings.Replace(string(docs[i]), `"5d1d3b3e0f6a4c2e9e8b7a6c5d4e3f21"`, fmt.Sprintf(`"doc%03d"`, i), 1))
		if want[i], _, err = d.MapAll(docs[i]); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for n := 0; n < 200; n++ {
				i := (g*31 + n) % len(docs)
				got, skipped, err := d.MapAll(docs[i])
				if err != nil || skipped != nil || !reflect.DeepEqual(got, want[i]) {
					select {
					case errs <- fmt.Sprintf("doc %d: %v %v", i, err, skipped):
					default:
					}
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
