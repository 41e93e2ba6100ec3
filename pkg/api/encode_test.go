package api

import (
	"encoding/json"
	"testing"

	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/rawjson"
)

// oddStrings are ids and names a Kazoo database may hold: control
// characters, DEL, the JavaScript line separators, HTML-significant
// characters, quotes and backslashes, and bytes that are not UTF-8.
var oddStrings = []string{
	"plain", "", "tab\there", "nl\nand\rcr", "nul\x00byte", "del\x7f", "ls\u2028ps\u2029",
	`quote"back\slash`, "<script>&amp;", "é ü 日本 🙂", "bad\xffutf8", "\xc3", "bom\ufeff",
}

// TestAppendDataOddStrings writes documents with odd strings as member
// names and values and parses the result strictly: valid JSON, and the
// strings that come back are what encoding/json makes of the input
// (invalid UTF-8 becomes U+FFFD, as encoding/json writes it). Listing
// groups are checked in package rows (TestGroupHeadOddStrings).
func TestAppendDataOddStrings(t *testing.T) {
	for _, s := range oddStrings {
		want, _ := json.Marshal(s)
		var wantS string
		_ = json.Unmarshal(want, &wantS)
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
