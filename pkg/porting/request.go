package porting

import (
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

// RequestAccountDB is pvt_account_db of a port request as Kazoo writes it:
// the database it is saved in (crossbar_doc:save), not the account's.
// Kazoo writes the member only where it is absent; so does portreqd, and
// a value found (an earlier portreqd wrote the account's database) is kept.
const RequestAccountDB = "port_requests"

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
	Tree        []string // the owning account's ancestors, root first (Kazoo: the account's pvt_tree)
	Created     int64
	Modified    int64
	Sent        bool
	Deleted     bool
	Transitions []Transition
	Attachments map[string]Attachment
	Private     Fields // pvt_* and _* members not modelled above
}

// Transition is one entry of pvt_transitions, newest first as Kazoo 4.3
// keeps them. An entry read from a document keeps its bytes (Raw) and is
// written back as it was, members portreqd does not model (Kazoo's
// authorization.user, authorization.reason) included; the typed members
// are for reading. New entries have no Raw and are written from them.
type Transition struct {
	Timestamp     int64           `json:"timestamp"`
	Type          string          `json:"type"`
	Reason        string          `json:"reason,omitempty"`
	Transition    TransitionState `json:"transition"`
	Authorization Authorization   `json:"authorization"`
	Raw           json.RawMessage `json:"-"`
}

// TransitionState names the states of one transition; the creation entry
// has no previous state.
type TransitionState struct {
	New      State `json:"new"`
	Previous State `json:"previous,omitempty"`
}

// Authorization names who made a transition: the account, and the user
// when a user's token made it (Kazoo's knm_port_request writes both).
type Authorization struct {
	Account struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"account"`
	User *TransitionUser `json:"user,omitempty"`
}

// TransitionUser is authorization.user. First and last names are always
// written, empty when the user has none: Monster UI's getUserFullName
// throws on a user without both.
type TransitionUser struct {
	ID        string `json:"id"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	FullName  string `json:"full_name,omitempty"`
}

// transitionMembers is Transition without its methods.
type transitionMembers Transition

// MarshalJSON writes an entry read from a document as it was read.
func (t Transition) MarshalJSON() ([]byte, error) {
	if len(t.Raw) > 0 {
		return t.Raw, nil
	}
	return json.Marshal(transitionMembers(t))
}

// UnmarshalJSON reads an entry and keeps its bytes. An entry whose
// members are not of the types portreqd reads them as (someone else's
// shape) is kept all the same: what could be read is read.
func (t *Transition) UnmarshalJSON(b []byte) error {
	var m transitionMembers
	_ = json.Unmarshal(b, &m)
	*t = Transition(m)
	t.Raw = append(json.RawMessage(nil), b...)
	return nil
}

// SortTransitions orders entries newest first, as Kazoo 4.3 writes them;
// entries of one timestamp keep their order. Earlier portreqd versions
// appended (oldest first); their entries move, unchanged.
func SortTransitions(list []Transition) {
	sort.SliceStable(list, func(i, j int) bool { return list[i].Timestamp > list[j].Timestamp })
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
// when it cannot be read. requestjson.Decode gives the same, faster.
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
		doc.Set("pvt_account_db", RequestAccountDB)
	}
	tree := r.Tree
	if n := len(tree); n > 0 && tree[n-1] == r.AccountID {
		// Earlier portreqd versions put the account itself last; Kazoo
		// writes its ancestors only (knm_port_request:save).
		tree = tree[:n-1]
	}
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

// UnmarshalJSON reads a port request document, Kazoo's or ours, with
// encoding/json: the definition of the result. Package requestjson reads
// the shapes stores hold in one pass, to exactly this result.
func (r *Request) UnmarshalJSON(b []byte) error {
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
	// pvt_account_db is written where absent; a value other than Kazoo's
	// (an earlier portreqd's) is kept as found.
	if doc.String("pvt_account_db") == RequestAccountDB {
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

// Readable reports whether the request may be read through account id: it
// is not deleted, and it belongs to id's subtree. Deleted requests, other
// document types and requests outside the subtree are all "bad
// identifier", so that tenants never learn of each other's requests.
func (r *Request) Readable(id string) bool { return !r.Deleted && r.VisibleTo(id) }

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

// usedBy is numbers.<e164>.used_by of the request, "" when absent.
func (r *Request) usedBy(e164 string) string {
	var nums map[string]struct {
		UsedBy string `json:"used_by"`
	}
	if json.Unmarshal(r.Public["numbers"], &nums) != nil {
		return ""
	}
	return nums[e164].UsedBy
}
