package rows

import (
	"encoding/json"
	"slices"

	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/rawjson"
)

// Row is one port request as the API shows it: the request's view, encoded
// once with its members sorted, plus the members that depend on more than
// the document (_read_only, and account_id in listings), merged in at their
// sorted place when the answer is written. A 50-row page is then a copy of
// bytes instead of fifty maps to build, sort and escape (the load tool
// profiled decoding and encoding as most of a page's CPU).
type Row struct {
	view  *encodedView
	extra []member // sorted by key; replaces a view member of the same key
}

// member is one object member, encoded: `"key":value`.
type member struct {
	key string
	enc []byte
}

// encodedView is Request.View() encoded, members sorted by key.
type encodedView struct {
	members []member
	size    int // bytes of all members
}

// readOnlyMembers are the members a row adds for the _read_only block ro
// (porting.Service.ReadOnly) of account accountID: view rows add it
// alone, listing rows account_id too.
func readOnlyMembers(accountID string, ro json.RawMessage) (view, row []member) {
	buf := make([]byte, 0, len(ro)+len(accountID)+32)
	buf = appendMember(buf, "_read_only", ro)
	m := member{key: "_read_only", enc: buf[:len(buf):len(buf)]}
	from := len(buf)
	buf = append(buf, `"account_id":`...)
	buf = rawjson.AppendString(buf, accountID)
	// Sorted: "_read_only" < "account_id".
	return []member{m}, []member{m, {key: "account_id", enc: buf[from:]}}
}

// encodeView encodes a request's view (porting.Request.View) once, for
// every answer that shows it.
func encodeView(f porting.Fields) *encodedView {
	keys := sortedKeys(f)
	size := 0
	for _, k := range keys {
		size += len(k) + 3 + len(f[k])
	}
	buf := make([]byte, 0, size+2*len(keys))
	v := &encodedView{members: make([]member, len(keys))}
	for i, k := range keys {
		from := len(buf)
		buf = appendMember(buf, k, f[k])
		v.members[i] = member{key: k, enc: buf[from:len(buf):len(buf)]}
	}
	v.size = len(buf)
	return v
}

// sortedKeys returns f's member names sorted as encoding/json sorts a
// map's keys.
func sortedKeys(f porting.Fields) []string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func appendMember(b []byte, key string, value json.RawMessage) []byte {
	b = rawjson.AppendString(b, key)
	b = append(b, ':')
	if len(value) == 0 {
		return append(b, "null"...)
	}
	return append(b, value...)
}

// AppendJSON appends the row as a JSON object, members sorted by key as
// encoding/json sorts a map's.
func (r Row) AppendJSON(b []byte) []byte {
	b = slices.Grow(b, r.view.size+len(r.view.members)+64*len(r.extra)+2)
	b = append(b, '{')
	first := true
	sep := func() {
		if !first {
			b = append(b, ',')
		}
		first = false
	}
	x := 0
	for _, m := range r.view.members {
		for x < len(r.extra) && r.extra[x].key < m.key {
			sep()
			b = append(b, r.extra[x].enc...)
			x++
		}
		if x < len(r.extra) && r.extra[x].key == m.key {
			continue // replaced by the extra member, written next
		}
		sep()
		b = append(b, m.enc...)
	}
	for ; x < len(r.extra); x++ {
		sep()
		b = append(b, r.extra[x].enc...)
	}
	return append(b, '}')
}

// MarshalJSON makes a Row encodable by encoding/json too.
func (r Row) MarshalJSON() ([]byte, error) { return r.AppendJSON(nil), nil }

// Fields decodes the row back into members (tests, and callers that need
// to look inside).
func (r Row) Fields() porting.Fields {
	f := porting.Fields{}
	_ = json.Unmarshal(r.AppendJSON(nil), &f)
	return f
}
