package jsview

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/dop251/goja"
)

// randomJSON writes a random JSON value with the awkward parts: index-like
// and repeated member names, escapes, unicode, numbers in every form.
func randomJSON(r *rand.Rand, sb *strings.Builder, depth int) {
	strs := []string{`""`, `"a"`, `"é€😀"`, `"\u00e9\ud83d\ude00"`, `"tab\there"`, `"\u0001\u001f"`, `"q\"uote\\"`, `"\/slash"`}
	nums := []string{"0", "-0", "1", "-1", "10", "1.5", "1e3", "1E-3", "-2.5e+10", "12345678901234567890", "0.1", "1e21", "123456789012345", "9007199254740993", "5e-324"}
	keys := []string{"a", "b", "_id2", "0", "1", "10", "2", "01", "-1", "4294967294", "4294967295", "+1", "é", "a"}
	switch k := r.Intn(10); {
	case depth > 3 || k < 3:
		switch r.Intn(4) {
		case 0:
			sb.WriteString(strs[r.Intn(len(strs))])
		case 1:
			sb.WriteString(nums[r.Intn(len(nums))])
		case 2:
			sb.WriteString([]string{"true", "false", "null"}[r.Intn(3)])
		default:
			sb.WriteString(" [ ] ")
		}
	case k < 6:
		sb.WriteString("[")
		for i, n := 0, r.Intn(5); i < n; i++ {
			if i > 0 {
				sb.WriteString(" , ")
			}
			randomJSON(r, sb, depth+1)
		}
		sb.WriteString("]")
	default:
		sb.WriteString("{")
		for i, n := 0, r.Intn(7); i < n; i++ {
			if i > 0 {
				sb.WriteString(",")
			}
			fmt.Fprintf(sb, "%q : ", keys[r.Intn(len(keys))])
			randomJSON(r, sb, depth+1)
		}
		sb.WriteString("}")
	}
}

// TestDocumentAsJSONParse checks that the document a map function sees
// serialises exactly as JSON.parse's would: same members, order and numbers,
// lazily built parts included.
func TestDocumentAsJSONParse(t *testing.T) {
	d := design(t, map[string]string{
		"whole": `function(doc) { emit(null, doc); }`,
		"walk":  `function(doc) { function w(v, p) { if (v !== null && typeof v === 'object') { for (var k in v) w(v[k], p + '/' + k); } else emit(p, v); } w(doc, ''); }`,
	})
	rt := goja.New()
	check, err := rt.RunString(`(function (s) {
		var doc = JSON.parse(s), out = [];
		function w(v, p) { if (v !== null && typeof v === 'object') { for (var k in v) w(v[k], p + '/' + k); } else { out.push(p, v); } }
		w(doc, '');
		return [JSON.stringify([null, doc]), JSON.stringify(out)];
	})`)
	if err != nil {
		t.Fatal(err)
	}
	parse, _ := goja.AssertFunction(check)
	r := rand.New(rand.NewSource(7))
	for n := 0; n < 2000; n++ {
		var sb strings.Builder
		sb.WriteString(`{"_id":"x"`)
		for i, m := 0, r.Intn(6); i < m; i++ {
			sb.WriteString(",")
			fmt.Fprintf(&sb, "%q:", []string{"a", "b", "1", "0", "_id", "n"}[r.Intn(6)])
			randomJSON(r, &sb, 0)
		}
		sb.WriteString("}")
		text := sb.String()
		want, err := parse(goja.Undefined(), rt.ToValue(text))
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		pair := want.ToObject(rt)
		wantWhole := string(couchRaw([]byte(pair.Get("0").String())))
		wantWalk := string(couchRaw([]byte(pair.Get("1").String())))
		rows, skipped, err := d.MapAll([]byte(text))
		if err != nil || skipped != nil {
			if strings.Contains(wantWhole, `"_id":"x"`) {
				t.Fatalf("%s: %v %v", text, err, skipped)
			}
			continue // _id was replaced by a non-string
		}
		if got := "[" + string(rows["whole"][0].Key) + "," + string(rows["whole"][0].Value) + "]"; got != wantWhole {
			t.Fatalf("%s:\n got %s\nwant %s", text, got, wantWhole)
		}
		var walk []string
		for _, row := range rows["walk"] {
			walk = append(walk, string(row.Key), string(row.Value))
		}
		if got := "[" + strings.Join(walk, ",") + "]"; got != wantWalk {
			t.Fatalf("%s:\n got %s\nwant %s", text, got, wantWalk)
		}
	}
	// What JSON.parse refuses is refused.
	for _, bad := range []string{`{"_id":"x","a":01}`, `{"_id":"x","a":[1,]}`, `{"_id":"x","a":{"b":1,}}`, `{"_id":"x","a":+1}`, `{"_id":"x","a":[1 2]}`, `{"_id":"x","a":"\x"}`, `{"_id":"x","a":[.5]}`, `{"_id":"x","a":{"b" 1}}`, `{"_id":"x","a":[tru]}`} {
		if _, _, err := d.MapAll([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
		if _, err := parse(goja.Undefined(), rt.ToValue(bad)); err == nil {
			t.Errorf("%s: JSON.parse accepts it", bad)
		}
	}
}
