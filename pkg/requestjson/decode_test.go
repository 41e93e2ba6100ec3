package requestjson

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/portreqd/portreqd/pkg/porting"
)

// requestDocs are documents of every shape Decode must read as
// encoding/json does: Kazoo's and ours, and the odd ones that take the
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
		kazoo43Transitions,
		// authorization.user: null, wrong types, case-folded, duplicated, extra members
		`{"pvt_type":"port_request","pvt_transitions":[{"authorization":{"user":null}}]}`,
		`{"pvt_type":"port_request","pvt_transitions":[{"authorization":{"user":{"id":1}}}]}`,
		`{"pvt_type":"port_request","pvt_transitions":[{"authorization":{"user":"u"}}]}`,
		`{"pvt_type":"port_request","pvt_transitions":[{"authorization":{"User":{"ID":"u","First_Name":"F"}}}]}`,
		`{"pvt_type":"port_request","pvt_transitions":[{"authorization":{"user":{"id":"u"},"user":{"last_name":"L"}}}]}`,
		`{"pvt_type":"port_request","pvt_transitions":[{"authorization":{"user":{"id":"u","email":"e","full_name":null}}}]}`,
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
	for _, f := range []string{"../porting/storetest/testdata/kazoo_port_request.json"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	return append(docs, string(benchRequestDoc(t)))
}

// sameDecode fails unless Decode reads doc exactly as porting.DecodeRequest
// (encoding/json) does, and its one pass, when it takes the document,
// gives the same.
func sameDecode(t *testing.T, doc string) {
	t.Helper()
	fast, errFast := Decode([]byte(doc))
	slow, errSlow := porting.DecodeRequest([]byte(doc))
	switch {
	case (errFast == nil) != (errSlow == nil),
		errFast != nil && errFast.Error() != errSlow.Error():
		t.Fatalf("%q: error %v, encoding/json's %v", doc, errFast, errSlow)
	case !reflect.DeepEqual(fast, slow):
		t.Fatalf("%q:\ndecoded       %#v\nencoding/json %#v", doc, fast, slow)
	}
	if len(doc) == 0 || doc == "null" {
		return
	}
	var def porting.Request
	errDef := def.UnmarshalJSON([]byte(doc))
	one, done, errOne := decodeFast([]byte(doc))
	switch {
	case !done:
	case (errOne == nil) != (errDef == nil),
		errOne != nil && (errOne.Error() != errDef.Error() || errors.Is(errOne, porting.ErrNotRequest) != errors.Is(errDef, porting.ErrNotRequest)):
		t.Fatalf("%q: one pass error %v, encoding/json's %v", doc, errOne, errDef)
	case errOne == nil && !reflect.DeepEqual(*one, def):
		t.Fatalf("%q:\none pass      %#v\nencoding/json %#v", doc, *one, def)
	}
}

func TestDecodeAsEncodingJSON(t *testing.T) {
	for _, doc := range requestDocs(t) {
		sameDecode(t, doc)
	}
}

// kazoo43Transitions has Kazoo 4.3's history entries (authorization.user
// and authorization.reason, no previous on the creation entry), spaced as
// a person might write them: each entry's Raw is its bytes exactly.
const kazoo43Transitions = `{"pvt_type":"port_request","pvt_transitions":[ {"authorization": {"account": {"id": "a", "name": "A"}, "reason": "r", "user": {"id": "u", "first_name": "F", "last_name": "L", "full_name": "F L"}}, "reason": "ok", "timestamp": 63900000050, "transition": {"new": "submitted", "previous": "unconfirmed"}, "type": "transition"} , {"timestamp":63900000000,"transition":{"new":"unconfirmed"},"type":"transition","authorization":{"account":{"id":"a","name":"A"},"user":{"id":"u"}}} ]}`

// The documents stores hold take the one-pass path.
func TestDecodeFastPath(t *testing.T) {
	docs := requestDocs(t)
	for _, doc := range []string{docs[0], docs[len(docs)-2], docs[len(docs)-1], kazoo43Transitions} {
		if _, done, err := decodeFast([]byte(doc)); !done || err != nil {
			t.Errorf("fast path not taken (%v) for %s", err, doc)
		}
	}
}

// The decoded request keeps nothing of the input: callers may reuse it.
func TestDecodeCopies(t *testing.T) {
	doc := benchRequestDoc(t)
	r, err := Decode(doc)
	if err != nil {
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

func FuzzDecode(f *testing.F) {
	for _, doc := range requestDocs(f) {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc string) { sameDecode(t, doc) })
}
