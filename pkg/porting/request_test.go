package porting

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

// requestDocs are documents of every shape Request.UnmarshalJSON must read
// as encoding/json does: Kazoo's and ours, and the odd ones that take the
// encoding/json path or stress the one-pass scanner.
func requestDocs(t testing.TB) []string {
	docs := []string{
		`{"_id":"84e0a824c6b74fe1e3ec48962a600ef2","_rev":"3-abc","name":"n","numbers":{"+12025559000":{}},"extra":1,
		"pvt_type":"port_request","pvt_port_state":"pending","pvt_account_id":"a","pvt_tree":["m","a"],"pvt_created":1,"pvt_modified":2,
		"pvt_unknown":"kept","_attachments":{"f.pdf":{"content_type":"application/pdf","length":3,"digest":"md5-x","revpos":2,"stub":true}}}`,
		// minimal, empty containers, nulls
		`{"pvt_type":"port_request"}`,
		` { "pvt_type" : "port_request" , "pvt_tree" : [ ] , "pvt_transitions" : [ ] , "_attachments" : { } } `,
		`{"pvt_type":"port_request","pvt_tree":null,"pvt_transitions":null,"_attachments":null,"_id":null,"pvt_created":null,"pvt_sent":null}`,
		`{"pvt_type":"port_request","pvt_transitions":[null],"pvt_tree":[null,"a"]}`,
		`{"pvt_type":"port_request","pvt_transitions":[{"timestamp":null,"type":null,"transition":null,"authorization":{"account":null}}]}`,
		`{"pvt_type":"port_request","_attachments":{"a":null,"b":{"content_type":null,"length":null,"stub":null}}}`,
		// other document types, missing or odd pvt_type
		`{"pvt_type":"account","name":"x"}`,
		`{"name":"no type"}`,
		`{"pvt_type":1}`,
		`{"pvt_type":"port\u005frequest"}`,
		`{"pvt_t\u0079pe":"port_request"}`,
		`{"pvt_type":"port_request","pvt_type":"account"}`,
		`{"pvt_type":"account","pvt_type":"port_request"}`,
		`{}`, `[]`, `null`, `"port_request"`, `1`, ``, ` `, `{`, `}`, `{"pvt_type":"port_request"} x`,
		`{"pvt_type":"port_request",}`, `{"pvt_type":"port_request" "a":1}`, `{"pvt_type" "port_request"}`,
		`{"pvt_type":"port_request","a":01}`, `{"pvt_type":"port_request","a":-}`, `{"pvt_type":"port_request","a":1.}`,
		`{"pvt_type":"port_request","a":1e}`, `{"pvt_type":"port_request","a":.5}`, `{"pvt_type":"port_request","a":tru}`,
		`{"pvt_type":"port_request","a":"\x"}`, `{"pvt_type":"port_request","a":"\u12"}`, "{\"pvt_type\":\"port_request\",\"a\":\"\x01\"}",
		"{\"pvt_type\":\"port_request\",\"a\":\"\xff\xfe\"}", "{\"pvt_type\":\"port_request\",\"\xff\":1}",
		`{"pvt_type":"port_request","a":[1,2,]}`, `{"pvt_type":"port_request","a":[1 2]}`, `{"pvt_type":"port_request","a":{"b"}}`,
		// typed members of other types, escapes, non-ASCII
		`{"pvt_type":"port_request","_id":1,"_rev":true,"pvt_port_state":[],"pvt_account_id":{},"pvt_created":"1","pvt_modified":1.5,"pvt_sent":"true","pvt_deleted":1}`,
		`{"pvt_type":"port_request","pvt_created":1e3,"pvt_modified":-0,"pvt_sent":false,"pvt_deleted":true}`,
		`{"pvt_type":"port_request","pvt_created":99999999999999999999,"pvt_modified":-9223372036854775808}`,
		`{"pvt_type":"port_request","pvt_created":123456789012345678,"pvt_modified":1234567890123456789}`,
		`{"pvt_type":"port_request","_id":"a\"b","pvt_account_id":"caf\u00e9","pvt_port_state":"é","name":"naïve \ud83d\ude00"}`,
		`{"pvt_type":"port_request","_id":"\ud800","pvt_tree":["\u0061","b\n"],"pvt_account_id":"` + "\xff" + `"}`,
		`{"pvt_type":"port_request","pvt_tree":"a"}`, `{"pvt_type":"port_request","pvt_tree":["a",1,"b"]}`,
		`{"pvt_type":"port_request","pvt_tree":[["a"]]}`,
		// transitions: exact, case-folded, extra members, wrong types, duplicates
		`{"pvt_type":"port_request","pvt_transitions":[{"timestamp":5,"type":"transition","reason":"r","transition":{"new":"submitted","previous":"unconfirmed"},"authorization":{"account":{"id":"a","name":"A"}}}]}`,
		`{"pvt_type":"port_request","pvt_transitions":[{"Timestamp":5,"TYPE":"t","Transition":{"New":"x"}}]}`,
		`{"pvt_type":"port_request","pvt_transitions":[{"timestamp":5,"extra":{"deep":[1,2]},"authorization":{"account":{"id":"a","other":1},"user":{}}}]}`,
		`{"pvt_type":"port_request","pvt_transitions":[{"timestamp":"5","type":1}]}`,
		`{"pvt_type":"port_request","pvt_transitions":[{"timestamp":5.5}]}`,
		`{"pvt_type":"port_request","pvt_transitions":[{"transition":{"new":"a"},"transition":{"previous":"b"},"type":"x","type":"y"}]}`,
		`{"pvt_type":"port_request","pvt_transitions":{"timestamp":5}}`,
		`{"pvt_type":"port_request","pvt_transitions":[{"type":"a\u0062"}],"pvt_transitions":[]}`,
		// attachments: exact, odd names, wrong types (an error), duplicates
		`{"pvt_type":"port_request","_attachments":{"loa.pdf":{"content_type":"application/pdf","length":3,"digest":"md5-x","revpos":2,"stub":true,"encoding":"gzip"}}}`,
		`{"pvt_type":"port_request","_attachments":{"reçu.pdf":{"length":3},"a\"b":{"length":4}}}`,
		`{"pvt_type":"port_request","_attachments":{"a":{"length":"3"}}}`,
		`{"pvt_type":"port_request","_attachments":{"a":{"length":3.5}}}`,
		`{"pvt_type":"port_request","_attachments":{"a":{"revpos":99999999999999999999}}}`,
		`{"pvt_type":"port_request","_attachments":"x"}`,
		`{"pvt_type":"port_request","_attachments":{"a":{"length":1},"a":{"digest":"d"}}}`,
		`{"pvt_type":"port_request","_attachments":{"a":{"Length":1,"Content_Type":"x"}}}`,
		// pvt_account_db: derived (dropped), other (kept), not a string (kept)
		`{"pvt_type":"port_request","pvt_account_id":"8a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d","pvt_account_db":"account%2F8a%2F2b%2F4c6d8e0f1a3b5c7d9e1f3a5b7c9d"}`,
		`{"pvt_type":"port_request","pvt_account_db":"account%2F8a%2F2b%2F4c6d8e0f1a3b5c7d9e1f3a5b7c9d","pvt_account_id":"8a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d"}`,
		`{"pvt_type":"port_request","pvt_account_id":"8a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d","pvt_account_db":"account/8a/2b/4c6d8e0f1a3b5c7d9e1f3a5b7c9d"}`,
		`{"pvt_type":"port_request","pvt_account_id":"ab","pvt_account_db":"account%2Fab"}`,
		`{"pvt_type":"port_request","pvt_account_db":"account%2F"}`,
		`{"pvt_type":"port_request","pvt_account_db":"account%2F","pvt_account_db":7}`,
		`{"pvt_type":"port_request","pvt_account_db":null}`,
		// unknown members public and private, duplicates, pvt_vsn dropped
		`{"pvt_type":"port_request","a":1,"a":{"x":[true,false,null,-1.5e+3,"s"]},"_b":[],"pvt_c":{},"pvt_vsn":"1","pvt_":0,"_":1,"":2,"pvt":3}`,
		`{"pvt_type":"port_request","a":  [ 1 , { "b" : "c" } ] ,"b":"x"	,` + "\n" + `"c":null}`,
		`{"pvt_type":"port_request","name":"a","name":"b","pvt_x":1,"pvt_x":2}`,
		"{\"pvt_type\":\"port_request\",\"k\xc3\xa9\":1}",
		`{"pvt_type":"port_request","a":` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `}`,
		`{"pvt_type":"port_request","a":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`,
	}
	for _, f := range []string{"storetest/testdata/kazoo_port_request.json"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	return append(docs, string(benchRequestDoc(t)))
}

// sameDecode fails unless UnmarshalJSON reads doc exactly as
// unmarshalRequestJSON (encoding/json) does.
func sameDecode(t *testing.T, doc string) {
	t.Helper()
	var fast, slow Request
	errFast := fast.UnmarshalJSON([]byte(doc))
	errSlow := slow.unmarshalRequestJSON([]byte(doc))
	switch {
	case (errFast == nil) != (errSlow == nil),
		errFast != nil && (errFast.Error() != errSlow.Error() || errors.Is(errFast, ErrNotRequest) != errors.Is(errSlow, ErrNotRequest)):
		t.Fatalf("%q: error %v, encoding/json's %v", doc, errFast, errSlow)
	case !reflect.DeepEqual(fast, slow):
		t.Fatalf("%q:\ndecoded       %#v\nencoding/json %#v", doc, fast, slow)
	}
}

func TestRequestUnmarshalAsEncodingJSON(t *testing.T) {
	for _, doc := range requestDocs(t) {
		sameDecode(t, doc)
	}
}

// The documents stores hold take the one-pass path.
func TestRequestUnmarshalFastPath(t *testing.T) {
	docs := requestDocs(t)
	for _, doc := range []string{docs[0], docs[len(docs)-2], docs[len(docs)-1]} {
		var r Request
		if done, err := r.unmarshalFast([]byte(doc)); !done || err != nil {
			t.Errorf("fast path not taken (%v) for %s", err, doc)
		}
	}
}

// The decoded request keeps nothing of the input: callers may reuse it.
func TestRequestUnmarshalCopies(t *testing.T) {
	doc := benchRequestDoc(t)
	var r Request
	if err := r.UnmarshalJSON(doc); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(r)
	for i := range doc {
		doc[i] = 'x'
	}
	if got, _ := json.Marshal(r); string(got) != string(want) {
		t.Errorf("request changed with its input:\n%s\n%s", got, want)
	}
	// Appending to a member cannot write into its neighbours.
	name := r.Public["name"]
	_ = append(name, `,"x"`...)
	if got, _ := json.Marshal(r); string(got) != string(want) {
		t.Errorf("append to a member changed the request")
	}
}

func FuzzRequestUnmarshal(f *testing.F) {
	for _, doc := range requestDocs(f) {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc string) { sameDecode(t, doc) })
}

func TestFieldsStringBool(t *testing.T) {
	f := Fields{}
	for _, raw := range []string{`"a"`, `"a\"b"`, `"é"`, "\"\xff\"", ` "a" `, `"a`, `1`, `true`, `false`, `null`, ``, ` true`, `true x`, `{}`} {
		f["k"] = json.RawMessage(raw)
		var s string
		var b bool
		_ = json.Unmarshal(f["k"], &s)
		_ = json.Unmarshal(f["k"], &b)
		if got := f.String("k"); got != s {
			t.Errorf("String(%q) = %q, want %q", raw, got, s)
		}
		if got := f.Bool("k"); got != b {
			t.Errorf("Bool(%q) = %v, want %v", raw, got, b)
		}
	}
	if f.String("absent") != "" || f.Bool("absent") {
		t.Error("absent member")
	}
}
