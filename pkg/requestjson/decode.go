// Package requestjson decodes stored port request documents in one pass,
// to exactly what porting.DecodeRequest (encoding/json) gives. Stores and
// the read cache decode every document a listing shows; encoding/json
// scans its input twice per call and the members once more each, which
// the load tool profiled as most of a page's CPU.
package requestjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/rawjson"
)

// Decode decodes a stored port request document as porting.DecodeRequest
// does (nil, and no error, when there is none or it is another type of
// document; KindInternal when it cannot be read), in one pass for the
// shapes stores hold: the members Request types are decoded in place,
// every other member is kept as a slice of one copy of raw. Documents of
// unusual shape (escaped member names, typed members of other types than
// Kazoo writes, invalid JSON) go to porting.DecodeRequest, whose
// encoding/json defines the result: the fast path must give exactly what
// it gives. Stores and the read cache decode every listed document, which
// is why this exists.
func Decode(raw []byte) (*porting.Request, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	r, done, err := decodeFast(raw)
	switch {
	case !done:
		return porting.DecodeRequest(raw)
	case errors.Is(err, porting.ErrNotRequest):
		return nil, nil
	case err != nil:
		return nil, porting.Wrap(porting.KindInternal, "decode port request", err)
	}
	return r, nil
}

// span is where a value is in a document; to is 0 for none.
type span struct{ from, to int }

// doc is where the members of a document are in its bytes.
type doc struct {
	id, rev, typ, state, account, accountDB, tree, created, modified, sent, deleted,
	transitions, attachments, vsn span
	others []member // the members Request does not type, in order
}

type member struct{ key, value span }

// typed returns where d keeps the value of member key when Request types
// it (pvt_vsn is dropped: Request writes its own), nil for other members.
func (d *doc) typed(key []byte) *span {
	switch string(key) {
	case "_id":
		return &d.id
	case "_rev":
		return &d.rev
	case "_attachments":
		return &d.attachments
	case "pvt_type":
		return &d.typ
	case "pvt_port_state":
		return &d.state
	case "pvt_account_id":
		return &d.account
	case "pvt_account_db":
		return &d.accountDB
	case "pvt_tree":
		return &d.tree
	case "pvt_created":
		return &d.created
	case "pvt_modified":
		return &d.modified
	case "pvt_sent":
		return &d.sent
	case "pvt_deleted":
		return &d.deleted
	case "pvt_transitions":
		return &d.transitions
	case "pvt_vsn":
		return &d.vsn
	}
	return nil
}

// decodeFast is Decode's one-pass decoder; done is false when the document
// needs encoding/json (porting.DecodeRequest). The document is copied
// twice, as bytes for the raw members and as a string that the decoded
// strings share, rather than once per member.
func decodeFast(b []byte) (r *porting.Request, done bool, err error) {
	buf := bytes.Clone(b)
	s := scanner{b: buf}
	if !s.consume('{') {
		return nil, false, nil
	}
	// The members are found first, the typed ones decoded after: a member
	// given twice keeps its last value, as encoding/json does. (d does not
	// escape, so neither does the room for 32 members.)
	d := doc{others: make([]member, 0, 32)}
	if !s.consume('}') {
		for {
			kf, kt, ok := s.key()
			if !ok {
				return nil, false, nil
			}
			s.ws()
			v := span{from: s.i}
			if !s.skip(0) {
				return nil, false, nil
			}
			v.to = s.i
			if p := d.typed(buf[kf:kt]); p != nil {
				*p = v
			} else {
				d.others = append(d.others, member{span{kf, kt}, v})
			}
			if s.consume(',') {
				continue
			}
			if s.consume('}') {
				break
			}
			return nil, false, nil
		}
	}
	if !s.end() {
		return nil, false, nil
	}
	raw := func(v span) []byte {
		if v.to == 0 {
			return nil
		}
		return buf[v.from:v.to:v.to]
	}
	if d.typ.to == 0 || rawjson.String(raw(d.typ)) != porting.RequestType {
		return nil, true, porting.ErrNotRequest
	}
	s.text = string(buf)
	str := func(v span) string {
		if v.to == 0 {
			return ""
		}
		if rawjson.IsPlainString(buf[v.from:v.to]) {
			return s.text[v.from+1 : v.to-1]
		}
		return rawjson.String(buf[v.from:v.to])
	}
	at := func(v span) *scanner { return &scanner{b: buf, text: s.text, i: v.from} }

	out := &porting.Request{Public: make(porting.Fields, len(d.others)), Private: porting.Fields{}}
	for _, m := range d.others {
		k := s.text[m.key.from:m.key.to]
		if strings.HasPrefix(k, "_") || strings.HasPrefix(k, "pvt_") {
			out.Private[k] = raw(m.value)
		} else {
			out.Public[k] = raw(m.value)
		}
	}
	out.ID = str(d.id)
	out.Rev = str(d.rev)
	out.State = porting.State(str(d.state))
	if out.State == "" {
		out.State = porting.Unconfirmed
	}
	out.AccountID = str(d.account)
	if d.tree.to != 0 && !decodeStrings(at(d.tree), &out.Tree) {
		_ = json.Unmarshal(raw(d.tree), &out.Tree)
	}
	if d.created.to != 0 {
		out.Created = rawjson.Int64(raw(d.created))
	}
	if d.modified.to != 0 {
		out.Modified = rawjson.Int64(raw(d.modified))
	}
	out.Sent = rawjson.Bool(raw(d.sent))
	out.Deleted = rawjson.Bool(raw(d.deleted))
	if d.transitions.to != 0 && !decodeTransitions(at(d.transitions), &out.Transitions) {
		_ = json.Unmarshal(raw(d.transitions), &out.Transitions)
	}
	if d.attachments.to != 0 && !decodeAttachments(at(d.attachments), &out.Attachments) {
		if err := json.Unmarshal(raw(d.attachments), &out.Attachments); err != nil {
			return nil, true, err
		}
	}
	// pvt_account_db is written where absent; a value other than Kazoo's
	// (an earlier portreqd's) is kept as found.
	if d.accountDB.to != 0 && str(d.accountDB) != porting.RequestAccountDB {
		out.Private["pvt_account_db"] = raw(d.accountDB)
	}
	return out, true, nil
}
