package api

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/rawjson"
	"github.com/portreqd/portreqd/pkg/rows"
)

// oddStrings are ids and names a Kazoo database may hold: control
// characters, DEL, the JavaScript line separators, HTML-significant
// characters, quotes and backslashes, and bytes that are not UTF-8.
var oddStrings = []string{
	"plain", "", "tab\there", "nl\nand\rcr", "nul\x00byte", "del\x7f", "ls\u2028ps\u2029",
	`quote"back\slash`, "<script>&amp;", "é ü 日本 🙂", "bad\xffutf8", "\xc3", "bom\ufeff",
}

// TestAppendDataOddStrings writes every listing shape with odd strings in
// every string position and parses the result strictly: valid JSON, and
// the strings that come back are what encoding/json makes of the input
// (invalid UTF-8 becomes U+FFFD, as encoding/json writes it).
func TestAppendDataOddStrings(t *testing.T) {
	for _, s := range oddStrings {
		want, _ := json.Marshal(s)
		var wantS string
		_ = json.Unmarshal(want, &wantS)
		groups := []rows.Group{{AccountID: s, AccountName: s, PortRequests: []rows.Row{}}}
		b, err := appendData(nil, groups)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if !json.Valid(b) {
			t.Fatalf("%q: invalid JSON %q", s, b)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var got []struct {
			AccountID    string           `json:"account_id"`
			AccountName  string           `json:"account_name"`
			PortRequests []map[string]any `json:"port_requests"`
		}
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("%q: strict decode of %q: %v", s, b, err)
		}
		if len(got) != 1 || got[0].AccountID != wantS || got[0].AccountName != wantS {
			t.Errorf("%q came back as %+v, want %q everywhere", s, got, wantS)
		}
		// A document with the string as a member name and as a value.
		doc, err := appendData(nil, porting.Fields{s: mustRaw(t, s), "name": mustRaw(t, s)})
		if err != nil {
			t.Fatal(err)
		}
		var fields map[string]any
		if err := json.Unmarshal(doc, &fields); err != nil || fields[wantS] != wantS || fields["name"] != wantS {
			t.Errorf("%q: document %q decodes to %v (%v)", s, doc, fields, err)
		}
		var back string
		if err := json.Unmarshal(rawjson.AppendString(nil, s), &back); err != nil || back != wantS {
			t.Errorf("AppendString(%q) = %q: decodes to %q (%v), want %q", s, rawjson.AppendString(nil, s), back, err, wantS)
		}
	}
}

func mustRaw(t *testing.T, s string) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
