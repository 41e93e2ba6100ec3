package rows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/porting"
)

// TestRowMatchesEncodingJSON checks that a Row writes exactly what
// encoding/json writes for the same members (sorted keys), with extra
// members merged in at their place and replacing a view member of the
// same key.
func TestRowMatchesEncodingJSON(t *testing.T) {
	cases := []struct {
		name  string
		view  porting.Fields
		extra [][2]string // key, raw value; sorted by key
	}{
		{"empty", porting.Fields{}, nil},
		{"only extras", porting.Fields{}, [][2]string{{"_read_only", `{"a":1}`}, {"account_id", `"x"`}}},
		{"extras first", porting.Fields{"name": json.RawMessage(`"n"`), "zeta": json.RawMessage(`[1]`)}, [][2]string{{"_read_only", `{}`}}},
		{"extras between and after", porting.Fields{"Upper": json.RawMessage(`1`), "b": json.RawMessage(`2`), "y": json.RawMessage(`3`)},
			[][2]string{{"_read_only", `{}`}, {"account_id", `"a"`}, {"zz", `null`}}},
		{"extra replaces member", porting.Fields{"account_id": json.RawMessage(`"spoofed"`), "id": json.RawMessage(`"i"`)},
			[][2]string{{"account_id", `"real"`}}},
		{"escaped keys", porting.Fields{"é": json.RawMessage(`1`), "a\"b": json.RawMessage(`2`), "": json.RawMessage(`3`)}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			row := Row{view: encodeView(c.view)}
			want := c.view.Clone()
			for _, e := range c.extra {
				row = row.with(e[0], json.RawMessage(e[1]))
				want[e[0]] = json.RawMessage(e[1])
			}
			wantJSON, err := json.Marshal(map[string]json.RawMessage(want))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(wantJSON), string(row.AppendJSON(nil))); diff != "" {
				t.Errorf("(-encoding/json +Row):\n%s", diff)
			}
		})
	}
}

// TestDocCache checks that the cache answers only for byte-identical
// documents, tells non-requests apart, and stays within its bound.
func TestDocCache(t *testing.T) {
	doc := func(id, rev, name string) []byte {
		r := &porting.Request{ID: id, Rev: rev, State: porting.Submitted, AccountID: "a", Public: porting.Fields{}}
		r.Public.Set("name", name)
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	c := newDocCache(64 << 10)
	first, err := c.get([]byte("r1"), doc("r1", "1-a", "one"), true)
	if err != nil || first.req == nil || first.req.Public.String("name") != "one" {
		t.Fatalf("first get: %+v, %v", first, err)
	}
	again, _ := c.get([]byte("r1"), doc("r1", "1-a", "one"), true)
	if again != first {
		t.Error("an identical document was decoded again")
	}
	if len(c.entries) != 1 {
		t.Errorf("%d entries for one document", len(c.entries))
	}
	if _, err := c.get([]byte("r9"), doc("r9", "1-a", "nine"), false); err != nil || c.entries["r9"] != nil {
		t.Errorf("an entry not to keep was kept (%v)", err)
	}
	changed, _ := c.get([]byte("r1"), doc("r1", "2-b", "two"), true)
	if changed == first || changed.req.Public.String("name") != "two" || changed.req.Rev != "2-b" {
		t.Errorf("a changed document answered from the cache: %+v", changed.req)
	}
	other, err := c.get([]byte("x"), []byte(`{"_id":"x","pvt_type":"account"}`), true)
	if err != nil || other.req != nil {
		t.Errorf("an account document: %+v, %v", other, err)
	}
	if _, err := c.get([]byte("y"), []byte(`{"_id":`), true); err == nil {
		t.Error("broken JSON decoded")
	}
	for i := range 1000 {
		if _, err := c.get([]byte(fmt.Sprintf("r%d", i)), doc(fmt.Sprintf("r%d", i), "1-a", "bulk"), true); err != nil {
			t.Fatal(err)
		}
		if c.size > c.max {
			t.Fatalf("cache holds %d bytes, bound %d", c.size, c.max)
		}
	}
}

// with returns the row plus member key = value (raw JSON), kept sorted.
func (r Row) with(key string, value json.RawMessage) Row {
	i, found := slices.BinarySearchFunc(r.extra, key, func(m member, k string) int {
		switch {
		case m.key < k:
			return -1
		case m.key > k:
			return 1
		}
		return 0
	})
	m := member{key: key, enc: appendMember(nil, key, value)}
	extra := slices.Clone(r.extra)
	if found {
		extra[i] = m
	} else {
		extra = slices.Insert(extra, i, m)
	}
	return Row{view: r.view, extra: extra}
}

// TestGroupHeadOddStrings writes a listing group whose account id and name
// are strings a Kazoo database may hold (control characters, DEL, the
// JavaScript line separators, quotes, invalid UTF-8) and parses it
// strictly: what comes back is what encoding/json makes of the input.
func TestGroupHeadOddStrings(t *testing.T) {
	for _, s := range []string{"plain", "", "tab\there", "nul\x00byte", "del\x7f", "ls\u2028ps\u2029",
		`quote"back\slash`, "<script>&amp;", "bad\xffutf8", "\xc3", "bom\ufeff"} {
		b := appendGroupHead([]byte{'['}, false, s, s)
		b = appendGroupHead(append(b, "]}"...), true, s, s)
		b = append(b, "]}]"...)
		want, _ := json.Marshal(s)
		var wantS string
		_ = json.Unmarshal(want, &wantS)
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
		if len(got) != 2 || got[1].AccountID != wantS || got[1].AccountName != wantS {
			t.Errorf("%q came back as %+v, want %q everywhere", s, got, wantS)
		}
	}
}
