package couchstore

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type walkedRow struct{ ID, Key, Doc string }

func walk(b []byte) ([]walkedRow, error) {
	var out []walkedRow
	err := walkRows(b, func(id string, key, doc []byte) error {
		out = append(out, walkedRow{id, string(key), string(doc)})
		return nil
	})
	return out, err
}

// stdlibRows is what encoding/json reads from the same answer, matching
// member names exactly (its struct decoding would fold case).
func stdlibRows(b []byte) ([]walkedRow, error) {
	var v map[string]json.RawMessage
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	var rows []map[string]json.RawMessage
	if raw, ok := v["rows"]; ok {
		if err := json.Unmarshal(raw, &rows); err != nil {
			return nil, err
		}
	}
	var out []walkedRow
	for _, r := range rows {
		var id string
		if raw, ok := r["id"]; ok {
			if err := json.Unmarshal(raw, &id); err != nil {
				return nil, err
			}
		}
		doc := string(r["doc"])
		if doc == "null" {
			doc = ""
		}
		out = append(out, walkedRow{id, string(r["key"]), doc})
	}
	return out, nil
}

func TestWalkRows(t *testing.T) {
	cases := []struct {
		name string
		body string
		want []walkedRow
		bad  bool
	}{
		{"empty object", `{}`, nil, false},
		{"no rows", `{"total_rows":0,"offset":0,"rows":[]}`, nil, false},
		{"rows", `{"total_rows":2,"offset":0,"rows":[
			{"id":"a1","key":["acct","completed",63900000000],"value":null,"doc":{"_id":"a1","name":"x"}},
			{"id":"b2","key":["acct","completed",63900000001],"value":{"v":[1,2]},"doc":{"_id":"b2","s":"}]\"{["}}
		]}`, []walkedRow{
			{"a1", `["acct","completed",63900000000]`, `{"_id":"a1","name":"x"}`},
			{"b2", `["acct","completed",63900000001]`, `{"_id":"b2","s":"}]\"{["}`},
		}, false},
		{"vanished doc", `{"rows":[{"id":"c3","key":1,"value":null,"doc":null}]}`, []walkedRow{{"c3", "1", ""}}, false},
		{"escaped id, rows last", `{"offset":0,"rows":[{"key":"k","id":"a\u00e9b"}],"total_rows":1}`, []walkedRow{{"aéb", `"k"`, ""}}, false},
		{"truncated", `{"rows":[{"id":"a1","key":1,"doc":{"_id":"a1"`, nil, true},
		{"unterminated string", `{"rows":[{"id":"a1`, nil, true},
		{"not an object", `[1,2]`, nil, true},
		{"empty", ``, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := walk([]byte(c.body))
			if c.bad {
				if err == nil {
					t.Fatalf("no error; rows %v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzWalkRows checks that the walker never panics or loops, and that on
// any answer encoding/json accepts it reads the same rows.
func FuzzWalkRows(f *testing.F) {
	f.Add([]byte(`{"total_rows":2,"offset":0,"rows":[{"id":"a1","key":["a","s",1],"value":null,"doc":{"_id":"a1","n":[{"x":"]"}]}}]}`))
	f.Add([]byte(`{"rows":[{"id":"c3","key":1,"doc":null},{"id":"d","key":{"a":"\""}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := walk(b)
		want, stdErr := stdlibRows(b)
		if stdErr != nil || err != nil {
			return // invalid JSON may be walked or refused; only panics matter
		}
		// encoding/json compacts nothing in RawMessage, so the bytes match;
		// it takes the last of duplicate keys, as the walker does.
		if !rowsEqual(want, got) {
			t.Fatalf("walker %v, encoding/json %v", got, want)
		}
	})
}

func rowsEqual(a, b []walkedRow) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || !bytes.Equal([]byte(a[i].Key), []byte(b[i].Key)) || a[i].Doc != b[i].Doc {
			return false
		}
	}
	return true
}
