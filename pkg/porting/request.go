package porting

import (
	"bytes"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/portreqd/portreqd/pkg/rawjson"
)

// RequestType is pvt_type of a port request document.
const RequestType = "port_request"

// requestVsn is written to pvt_vsn; Kazoo's port request documents carry "1".
const requestVsn = "1"

// Request is a port request document of the global `port_requests`
// database, in Kazoo's shape: the public members as the client sent them
// (numbers normalized) plus private members. Members portreqd does not model
// are kept in Public or Private so that Kazoo's own documents round-trip.
type Request struct {
	ID          string
	Rev         string
	Public      Fields // name, numbers, bill, carrier, … and unknown public keys
	State       State
	AccountID   string
	Tree        []string // the owning account's ancestors and the account itself
	Created     int64
	Modified    int64
	Sent        bool
	Deleted     bool
	Transitions []Transition
	Attachments map[string]Attachment
	Private     Fields // pvt_* and _* members not modelled above
}

// Transition is one entry of pvt_transitions.
type Transition struct {
	Timestamp     int64           `json:"timestamp"`
	Type          string          `json:"type"`
	Reason        string          `json:"reason,omitempty"`
	Transition    TransitionState `json:"transition"`
	Authorization Authorization   `json:"authorization"`
}

// TransitionState names the states of one transition.
type TransitionState struct {
	New      State `json:"new"`
	Previous State `json:"previous"`
}

// Authorization names who made a transition.
type Authorization struct {
	Account struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"account"`
}

// Attachment is the metadata CouchDB keeps of an inline attachment.
type Attachment struct {
	ContentType string `json:"content_type"`
	Length      int64  `json:"length"`
	Digest      string `json:"digest,omitempty"`
	// Encoding is CouchDB's "encoding" of a stub read with
	// att_encoding_info: "gzip" when CouchDB keeps the bytes compressed, and
	// Digest is then the MD5 of the compressed form.
	Encoding string `json:"encoding,omitempty"`
	Revpos   int    `json:"revpos,omitempty"`
	Stub     bool   `json:"stub,omitempty"`
}

// requestPrivate lists the members Request types itself.
var requestPrivate = map[string]bool{
	"_id": true, "_rev": true, "_attachments": true, "pvt_type": true, "pvt_port_state": true,
	"pvt_account_id": true, "pvt_tree": true, "pvt_created": true,
	"pvt_modified": true, "pvt_sent": true, "pvt_deleted": true, "pvt_transitions": true, "pvt_vsn": true,
}

// ErrNotRequest is returned when decoding a document of another pvt_type
// into a Request: ids come from clients, and a view row may name anything.
var ErrNotRequest = errors.New("not a port request document")

// DecodeRequest decodes a stored document: nil, and no error, when there is
// none (absent, JSON null) or it is another type of document; KindInternal
// when it cannot be read. Both stores and the read cache decode with it.
func DecodeRequest(raw []byte) (*Request, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	r := &Request{}
	switch err := r.UnmarshalJSON(raw); {
	case errors.Is(err, ErrNotRequest):
		return nil, nil
	case err != nil:
		return nil, Wrap(KindInternal, "decode port request", err)
	}
	return r, nil
}

// MarshalJSON writes the Kazoo document. Attachments are written as stubs,
// which CouchDB keeps untouched on update.
func (r Request) MarshalJSON() ([]byte, error) {
	doc := make(Fields, len(r.Public)+len(r.Private)+16)
	for k, v := range r.Public {
		doc[k] = v
	}
	for k, v := range r.Private {
		doc[k] = v
	}
	doc.Set("_id", r.ID)
	if r.Rev != "" {
		doc.Set("_rev", r.Rev)
	}
	doc.Set("pvt_type", RequestType)
	doc.Set("pvt_port_state", r.State)
	doc.Set("pvt_account_id", r.AccountID)
	if _, ok := doc["pvt_account_db"]; !ok {
		doc.Set("pvt_account_db", EncodedDB(AccountDB(r.AccountID)))
	}
	tree := r.Tree
	if tree == nil {
		tree = []string{}
	}
	doc.Set("pvt_tree", tree)
	doc.Set("pvt_created", r.Created)
	doc.Set("pvt_modified", r.Modified)
	doc.Set("pvt_sent", r.Sent)
	if r.Deleted {
		doc.Set("pvt_deleted", true)
	}
	tr := r.Transitions
	if tr == nil {
		tr = []Transition{}
	}
	doc.Set("pvt_transitions", tr)
	doc.Set("pvt_vsn", requestVsn)
	if len(r.Attachments) > 0 {
		stubs := make(map[string]Attachment, len(r.Attachments))
		for name, a := range r.Attachments {
			a.Stub = true
			stubs[name] = a
		}
		doc.Set("_attachments", stubs)
	}
	return json.Marshal(map[string]json.RawMessage(doc))
}

// UnmarshalJSON reads a port request document, Kazoo's or ours.
//
// It reads the document in one pass (see scanner): the members Request
// types are decoded in place, every other member is kept as a slice of one
// copy of b. Documents of unusual shape (escaped member names, typed
// members of other types than Kazoo writes, invalid JSON) are decoded by
// unmarshalRequestJSON, with encoding/json, which defines the result: the
// fast path must give exactly what it gives.
func (r *Request) UnmarshalJSON(b []byte) error {
	if done, err := r.unmarshalFast(b); done {
		return err
	}
	return r.unmarshalRequestJSON(b)
}

// span is where a value is in a document; to is 0 for none.
type span struct{ from, to int }

// unmarshalFast is UnmarshalJSON's one-pass decoder; done is false when the
// document needs unmarshalRequestJSON, r untouched then. The document is
// copied twice, as bytes for the raw members and as a string that the
// decoded strings share, rather than once per member.
func (r *Request) unmarshalFast(b []byte) (done bool, err error) {
	buf := bytes.Clone(b)
	s := scanner{b: buf}
	if !s.consume('{') {
		return false, nil
	}
	var id, rev, typ, state, account, accountDB, tree, created, modified, sent, deleted, transitions, attachments span
	type member struct {
		key   span
		value span
	}
	members := make([]member, 0, 32)
	if !s.consume('}') {
		for {
			kf, kt, ok := s.key()
			if !ok {
				return false, nil
			}
			s.ws()
			v := span{from: s.i}
			if !s.skip(0) {
				return false, nil
			}
			v.to = s.i
			switch string(buf[kf:kt]) {
			case "_id":
				id = v
			case "_rev":
				rev = v
			case "_attachments":
				attachments = v
			case "pvt_type":
				typ = v
			case "pvt_port_state":
				state = v
			case "pvt_account_id":
				account = v
			case "pvt_account_db":
				accountDB = v
			case "pvt_tree":
				tree = v
			case "pvt_created":
				created = v
			case "pvt_modified":
				modified = v
			case "pvt_sent":
				sent = v
			case "pvt_deleted":
				deleted = v
			case "pvt_transitions":
				transitions = v
			case "pvt_vsn":
			default:
				members = append(members, member{span{kf, kt}, v})
			}
			if s.consume(',') {
				continue
			}
			if s.consume('}') {
				break
			}
			return false, nil
		}
	}
	if !s.end() {
		return false, nil
	}
	raw := func(v span) []byte {
		if v.to == 0 {
			return nil
		}
		return buf[v.from:v.to:v.to]
	}
	if typ.to == 0 || rawjson.String(raw(typ)) != RequestType {
		return true, ErrNotRequest
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

	out := Request{Public: make(Fields, len(members)), Private: Fields{}}
	for _, m := range members {
		k := s.text[m.key.from:m.key.to]
		if strings.HasPrefix(k, "_") || strings.HasPrefix(k, "pvt_") {
			out.Private[k] = raw(m.value)
		} else {
			out.Public[k] = raw(m.value)
		}
	}
	out.ID = str(id)
	out.Rev = str(rev)
	out.State = State(str(state))
	if out.State == "" {
		out.State = Unconfirmed
	}
	out.AccountID = str(account)
	if tree.to != 0 && !decodeStrings(at(tree), &out.Tree) {
		_ = json.Unmarshal(raw(tree), &out.Tree)
	}
	if created.to != 0 {
		out.Created = rawjson.Int64(raw(created))
	}
	if modified.to != 0 {
		out.Modified = rawjson.Int64(raw(modified))
	}
	out.Sent = rawjson.Bool(raw(sent))
	out.Deleted = rawjson.Bool(raw(deleted))
	if transitions.to != 0 && !decodeTransitions(at(transitions), &out.Transitions) {
		_ = json.Unmarshal(raw(transitions), &out.Transitions)
	}
	if attachments.to != 0 && !decodeAttachments(at(attachments), &out.Attachments) {
		if err := json.Unmarshal(raw(attachments), &out.Attachments); err != nil {
			return true, err
		}
	}
	// pvt_account_db is derived; only a value that differs from ours (an
	// older Kazoo's) is kept as found.
	if accountDB.to != 0 && str(accountDB) != EncodedDB(AccountDB(out.AccountID)) {
		out.Private["pvt_account_db"] = raw(accountDB)
	}
	*r = out
	return true, nil
}

// decodeStrings reads the value at s, valid JSON, into *out as
// json.Unmarshal into a nil []string does, when it is null or an array of
// plain strings; false (and *out untouched) otherwise.
func decodeStrings(s *scanner, out *[]string) bool {
	if s.null() {
		return true
	}
	list := make([]string, 0, 4)
	ok := s.array(func() bool {
		from, to, ok := s.plainStr()
		if ok {
			list = append(list, s.sub(from, to))
		}
		return ok
	})
	if ok {
		*out = list
	}
	return ok
}

// decodeTransitions reads the value at s, valid JSON, into *out as
// json.Unmarshal into a nil []Transition does, when every transition has
// the shape portreqd and Kazoo write (members named exactly as tagged, of
// their types); false (and *out untouched) otherwise.
func decodeTransitions(s *scanner, out *[]Transition) bool {
	if s.null() {
		return true
	}
	list := make([]Transition, 0, 4)
	ok := s.array(func() bool {
		list = append(list, Transition{})
		return decodeTransition(s, &list[len(list)-1])
	})
	if ok {
		*out = list
	}
	return ok
}

// decodeTransition reads one transition object into t.
func decodeTransition(s *scanner, t *Transition) bool {
	return s.object(func(from, to int) bool {
		switch string(s.b[from:to]) {
		case "timestamp":
			return s.int64Value(&t.Timestamp)
		case "type":
			return s.stringValue(&t.Type)
		case "reason":
			return s.stringValue(&t.Reason)
		case "transition":
			return s.object(func(from, to int) bool {
				switch string(s.b[from:to]) {
				case "new":
					return s.stringValue((*string)(&t.Transition.New))
				case "previous":
					return s.stringValue((*string)(&t.Transition.Previous))
				}
				return false
			})
		case "authorization":
			return s.object(func(from, to int) bool {
				if string(s.b[from:to]) != "account" {
					return false
				}
				return s.object(func(from, to int) bool {
					switch string(s.b[from:to]) {
					case "id":
						return s.stringValue(&t.Authorization.Account.ID)
					case "name":
						return s.stringValue(&t.Authorization.Account.Name)
					}
					return false
				})
			})
		}
		return false
	})
}

// decodeAttachments reads the value at s, valid JSON, into *out as
// json.Unmarshal into a nil map[string]Attachment does, when every entry
// has the shape CouchDB writes; false (and *out untouched) otherwise.
func decodeAttachments(s *scanner, out *map[string]Attachment) bool {
	if s.null() {
		return true
	}
	if s.next() != '{' {
		return false
	}
	atts := make(map[string]Attachment, 2)
	ok := s.object(func(from, to int) bool {
		var a Attachment
		var revpos int64
		ok := s.object(func(from, to int) bool {
			switch string(s.b[from:to]) {
			case "content_type":
				return s.stringValue(&a.ContentType)
			case "length":
				return s.int64Value(&a.Length)
			case "digest":
				return s.stringValue(&a.Digest)
			case "revpos":
				return s.int64Value(&revpos)
			case "stub":
				return s.boolValue(&a.Stub)
			}
			return false
		})
		a.Revpos = int(revpos)
		atts[s.sub(from, to)] = a
		return ok && int64(a.Revpos) == revpos
	})
	if !ok {
		return false
	}
	*out = atts
	return true
}

// unmarshalRequestJSON is UnmarshalJSON with encoding/json: the
// definition of the result, for documents the fast path does not take.
func (r *Request) unmarshalRequestJSON(b []byte) error {
	var doc Fields
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	out := Request{Public: Fields{}, Private: Fields{}}
	out.ID = doc.String("_id")
	out.Rev = doc.String("_rev")
	if doc.String("pvt_type") != RequestType {
		return ErrNotRequest
	}
	out.State = State(doc.String("pvt_port_state"))
	if out.State == "" {
		out.State = Unconfirmed
	}
	out.AccountID = doc.String("pvt_account_id")
	_ = json.Unmarshal(doc["pvt_tree"], &out.Tree)
	_ = json.Unmarshal(doc["pvt_created"], &out.Created)
	_ = json.Unmarshal(doc["pvt_modified"], &out.Modified)
	out.Sent = doc.Bool("pvt_sent")
	out.Deleted = doc.Bool("pvt_deleted")
	_ = json.Unmarshal(doc["pvt_transitions"], &out.Transitions)
	if raw, ok := doc["_attachments"]; ok {
		if err := json.Unmarshal(raw, &out.Attachments); err != nil {
			return err
		}
	}
	// pvt_account_db is derived; only a value that differs from ours (an
	// older Kazoo's) is kept as found.
	if doc.String("pvt_account_db") == EncodedDB(AccountDB(out.AccountID)) {
		delete(doc, "pvt_account_db")
	}
	for k, v := range doc {
		switch {
		case requestPrivate[k]:
		case strings.HasPrefix(k, "pvt_") || strings.HasPrefix(k, "_"):
			out.Private[k] = v
		default:
			out.Public[k] = v
		}
	}
	*r = out
	return nil
}

// Numbers returns the E.164 keys of the request's numbers, sorted.
func (r *Request) Numbers() []string {
	var nums map[string]json.RawMessage
	_ = json.Unmarshal(r.Public["numbers"], &nums)
	out := make([]string, 0, len(nums))
	for n := range nums {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Name is the request's name.
func (r *Request) Name() string { return r.Public.String("name") }

// VisibleTo reports whether the request belongs to account id's subtree.
func (r *Request) VisibleTo(id string) bool {
	if r.AccountID == id {
		return true
	}
	for _, t := range r.Tree {
		if t == id {
			return true
		}
	}
	return false
}

// Uploads is the request's attachments as the API shows them.
func (r *Request) Uploads() map[string]map[string]any {
	out := make(map[string]map[string]any, len(r.Attachments))
	for name, a := range r.Attachments {
		out[name] = map[string]any{"content_type": a.ContentType, "length": a.Length}
	}
	return out
}

// uploadsJSON is Uploads as JSON, written directly: every listing row has it.
func (r *Request) uploadsJSON() json.RawMessage {
	if len(r.Attachments) == 0 {
		return json.RawMessage("{}")
	}
	names := make([]string, 0, len(r.Attachments))
	for name := range r.Attachments {
		names = append(names, name)
	}
	sort.Strings(names)
	b := []byte{'{'}
	for i, name := range names {
		if i > 0 {
			b = append(b, ',')
		}
		a := r.Attachments[name]
		b = rawjson.AppendString(b, name)
		b = append(b, `:{"content_type":`...)
		b = rawjson.AppendString(b, a.ContentType)
		b = append(b, `,"length":`...)
		b = strconv.AppendInt(b, a.Length, 10)
		b = append(b, '}')
	}
	return append(b, '}')
}

// View is the request as the API shows it: public members plus the computed
// ones. The _read_only block is added by the service, which knows accounts.
func (r *Request) View() Fields {
	out := make(Fields, len(r.Public)+8)
	for k, v := range r.Public {
		out[k] = v
	}
	out.Set("id", r.ID)
	out.Set("created", r.Created)
	out.Set("updated", r.Modified)
	out.Set("port_state", r.State)
	out.Set("sent", r.Sent)
	out["uploads"] = r.uploadsJSON()
	return out
}
