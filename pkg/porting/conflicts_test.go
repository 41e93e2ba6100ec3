package porting

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// leafOf builds a port request revision: its state, modified time, the
// transitions (newest first) as "prev>new@time", comments as
// "text@time" and attachment names.
func leafOf(rev string, state State, modified int64, transitions, comments, atts []string) Leaf {
	doc := map[string]any{"_id": "r", "_rev": rev, "pvt_type": "port_request", "pvt_port_state": state,
		"pvt_modified": modified, "name": "from " + rev}
	var ts []any
	for _, t := range transitions {
		move, at, _ := strings.Cut(t, "@")
		prev, next, _ := strings.Cut(move, ">")
		var ti int64
		fmt.Sscan(at, &ti)
		ts = append(ts, map[string]any{"timestamp": ti, "type": "transition",
			"transition": map[string]any{"previous": prev, "new": next}})
	}
	if ts != nil {
		doc["pvt_transitions"] = ts
	}
	var cs []any
	for _, c := range comments {
		text, at, _ := strings.Cut(c, "@")
		var ti int64
		fmt.Sscan(at, &ti)
		cs = append(cs, map[string]any{"timestamp": ti, "content": text})
	}
	if cs != nil {
		doc["comments"] = cs
	}
	if atts != nil {
		stubs := map[string]any{}
		for _, a := range atts {
			stubs[a] = map[string]any{"stub": true, "content_type": "application/pdf", "revpos": 2}
		}
		doc["_attachments"] = stubs
	}
	b, _ := json.Marshal(doc)
	return Leaf{Rev: rev, Doc: b}
}

// TestMergeRequestLeaves checks the merge rule: the state, the base, the
// union of history, the attachments, and that the merged bytes do not
// depend on the order the revisions come in.
func TestMergeRequestLeaves(t *testing.T) {
	sub := "unconfirmed>submitted@100"
	for _, tc := range []struct {
		name   string
		leaves []Leaf
		state  State
		base   string
		atts   map[string]string
		trans  int // transitions in the merge
	}{
		{"newest transition wins", []Leaf{
			leafOf("3-aaa", Pending, 200, []string{"submitted>pending@200", sub}, []string{"x@150"}, []string{"a.pdf"}),
			leafOf("3-bbb", Rejected, 300, []string{"submitted>rejected@300", sub}, []string{"y@250"}, []string{"b.pdf"}),
		}, Rejected, "3-bbb", map[string]string{"a.pdf": "3-aaa", "b.pdf": "3-bbb"}, 3},
		{"completed beats a later edit", []Leaf{
			leafOf("4-aaa", Completed, 200, []string{"scheduled>completed@200", sub}, nil, nil),
			leafOf("4-bbb", Scheduled, 400, []string{"pending>scheduled@400", sub}, nil, nil),
		}, Completed, "4-bbb", map[string]string{}, 3},
		{"canceled beats a later move", []Leaf{
			leafOf("3-aaa", Canceled, 200, []string{"submitted>canceled@200", sub}, nil, nil),
			leafOf("3-bbb", Pending, 300, []string{"submitted>pending@300", sub}, nil, nil),
		}, Canceled, "3-bbb", map[string]string{}, 3},
		{"completed beats canceled", []Leaf{
			leafOf("5-aaa", Canceled, 500, []string{"scheduled>canceled@500"}, nil, nil),
			leafOf("5-bbb", Completed, 400, []string{"scheduled>completed@400"}, nil, nil),
		}, Completed, "5-aaa", map[string]string{}, 2},
		{"same time: CouchDB's ranking picks the base", []Leaf{
			leafOf("2-aaa", Unconfirmed, 100, nil, []string{"x@50"}, []string{"same.pdf"}),
			leafOf("2-fff", Unconfirmed, 100, nil, []string{"y@60"}, []string{"same.pdf"}),
		}, Unconfirmed, "2-fff", map[string]string{"same.pdf": "2-fff"}, 0},
		{"three revisions, shared history once", []Leaf{
			leafOf("3-aaa", Submitted, 100, []string{sub}, []string{"x@50"}, nil),
			leafOf("3-bbb", Submitted, 120, []string{sub}, []string{"x@50", "y@110"}, nil),
			leafOf("3-ccc", Submitted, 110, []string{sub}, []string{"x@50", "z@105"}, nil),
		}, Submitted, "3-bbb", map[string]string{}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := MergeRequestLeaves(tc.leaves)
			if err != nil {
				t.Fatal(err)
			}
			if m.State != tc.state || m.Base != tc.base {
				t.Errorf("state %s base %s, want %s %s", m.State, m.Base, tc.state, tc.base)
			}
			if fmt.Sprint(m.Attachments) != fmt.Sprint(tc.atts) {
				t.Errorf("attachments %v, want %v", m.Attachments, tc.atts)
			}
			var doc struct {
				Rev         string            `json:"_rev"`
				State       State             `json:"pvt_port_state"`
				Transitions []json.RawMessage `json:"pvt_transitions"`
				Comments    []struct {
					Content   string `json:"content"`
					Timestamp int64  `json:"timestamp"`
				} `json:"comments"`
				Attachments any `json:"_attachments"`
			}
			if err := json.Unmarshal(m.Doc, &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Rev != tc.base || doc.State != tc.state || len(doc.Transitions) != tc.trans || doc.Attachments != nil {
				t.Errorf("merged doc: %s", m.Doc)
			}
			// Every comment once, oldest first, the merge note last.
			seen := map[string]int{}
			for i, c := range doc.Comments {
				seen[c.Content]++
				if i > 0 && c.Timestamp < doc.Comments[i-1].Timestamp {
					t.Errorf("comments out of order: %s", m.Doc)
				}
			}
			for _, l := range tc.leaves {
				var d struct {
					Comments []struct {
						Content string `json:"content"`
					} `json:"comments"`
				}
				_ = json.Unmarshal(l.Doc, &d)
				for _, c := range d.Comments {
					if seen[c.Content] != 1 {
						t.Errorf("comment %q appears %d times", c.Content, seen[c.Content])
					}
				}
			}
			if last := doc.Comments[len(doc.Comments)-1]; !strings.Contains(last.Content, "were merged") {
				t.Errorf("no merge note last: %s", m.Doc)
			}
			// Any order of the revisions gives the same bytes.
			rev := make([]Leaf, len(tc.leaves))
			for i, l := range tc.leaves {
				rev[len(rev)-1-i] = l
			}
			m2, err := MergeRequestLeaves(rev)
			if err != nil || string(m2.Doc) != string(m.Doc) {
				t.Errorf("order changes the merge:\n%s\n%s", m.Doc, m2.Doc)
			}
		})
	}
	if _, err := MergeRequestLeaves([]Leaf{{Rev: "1-a", Doc: []byte(`{}`)}}); err == nil {
		t.Error("one revision merged")
	}
	if _, err := MergeRequestLeaves([]Leaf{{Rev: "1-a", Doc: []byte(`[]`)}, {Rev: "1-b", Doc: []byte(`{}`)}}); err == nil {
		t.Error("a revision that is no object merged")
	}
}

// TestLastModifiedLeaf checks the accounts' rule: the revision modified
// last stands, CouchDB's ranking breaking ties, whatever the order.
func TestLastModifiedLeaf(t *testing.T) {
	a := Leaf{Rev: "3-aaa", Doc: []byte(`{"pvt_modified":200}`)}
	b := Leaf{Rev: "3-bbb", Doc: []byte(`{"pvt_modified":100}`)}
	c := Leaf{Rev: "3-ccc", Doc: []byte(`{"pvt_modified":200}`)}
	d := Leaf{Rev: "10-000", Doc: []byte(`{"pvt_modified":200}`)}
	for _, tc := range []struct {
		leaves []Leaf
		want   string
	}{
		{[]Leaf{a, b}, "3-aaa"}, {[]Leaf{b, a}, "3-aaa"},
		{[]Leaf{a, c}, "3-ccc"}, {[]Leaf{c, a, b}, "3-ccc"},
		{[]Leaf{c, d}, "10-000"}, // generation 10 ranks above 3
		// Created apart (two masters): the earlier creation, whatever the edits.
		{[]Leaf{{Rev: "1-new", Doc: []byte(`{"pvt_created":50,"pvt_modified":300}`)}, {Rev: "4-old", Doc: []byte(`{"pvt_created":10,"pvt_modified":20}`)}}, "4-old"},
		{[]Leaf{{Rev: "4-old", Doc: []byte(`{"pvt_created":10,"pvt_modified":20}`)}, {Rev: "1-new", Doc: []byte(`{"pvt_created":50,"pvt_modified":300}`)}}, "4-old"},
		// Created together, edited apart: the last edit.
		{[]Leaf{{Rev: "2-x", Doc: []byte(`{"pvt_created":10,"pvt_modified":20}`)}, {Rev: "2-y", Doc: []byte(`{"pvt_created":10,"pvt_modified":30}`)}}, "2-y"},
	} {
		if got := LastModifiedLeaf(tc.leaves); got != tc.want {
			t.Errorf("LastModifiedLeaf(%v) = %s, want %s", tc.leaves, got, tc.want)
		}
	}
}

// TestMergeKeepsOneEventPerID: two sites that wrote one creation (an
// Idempotency-Key) each hold its created event, under one id and at two
// times; the merge keeps the earliest copy once, every other event, and
// the same bytes in either order.
func TestMergeKeepsOneEventPerID(t *testing.T) {
	withOutbox := func(l Leaf, events ...map[string]any) Leaf {
		var doc map[string]any
		_ = json.Unmarshal(l.Doc, &doc)
		doc[outboxMember] = events
		l.Doc, _ = json.Marshal(doc)
		return l
	}
	created := func(at int64, site string) map[string]any {
		return map[string]any{"id": "c0ffee", "type": "created", "timestamp": at, "site": site}
	}
	a := withOutbox(leafOf("1-aaa", Unconfirmed, 100, nil, nil, nil), created(100, "a"))
	b := withOutbox(leafOf("1-bbb", Unconfirmed, 101, nil, nil, nil), created(101, "b"),
		map[string]any{"id": "beef", "type": "comment", "timestamp": 101, "site": "b"})
	var docs [2][]byte
	for i, leaves := range [][]Leaf{{a, b}, {b, a}} {
		m, err := MergeRequestLeaves(leaves)
		if err != nil {
			t.Fatal(err)
		}
		docs[i] = m.Doc
		var doc map[string]json.RawMessage
		_ = json.Unmarshal(m.Doc, &doc)
		var events []struct {
			ID        string `json:"id"`
			Timestamp int64  `json:"timestamp"`
			Site      string `json:"site"`
		}
		_ = json.Unmarshal(doc[outboxMember], &events)
		ids := map[string]int{}
		for _, e := range events {
			ids[e.ID]++
			if e.ID == "c0ffee" && (e.Timestamp != 100 || e.Site != "a") {
				t.Errorf("the created event kept: %+v, want the earliest (site a)", e)
			}
		}
		if ids["c0ffee"] != 1 || ids["beef"] != 1 || len(events) != 3 {
			t.Errorf("merged outbox: %s; want the created event once, the comment, the merge's event", doc[outboxMember])
		}
	}
	if string(docs[0]) != string(docs[1]) {
		t.Errorf("the merge depends on the order of the revisions:\n%s\n%s", docs[0], docs[1])
	}
}
