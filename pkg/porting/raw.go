package porting

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
)

// RawStore is a store seen as CouchDB databases of JSON documents, the view
// migration copies through. Both stores keep Kazoo's documents unchanged,
// so moving data between them is a copy of documents, not a translation.
type RawStore interface {
	// RawDocs calls fn for every document of database db (design documents
	// excluded) in id order. A missing database has no documents.
	RawDocs(ctx context.Context, db string, fn func(*RawDoc) error) error
	// RawGet returns one document; KindNotFound when absent.
	RawGet(ctx context.Context, db, id string) (*RawDoc, error)
	// RawPut makes db/doc.ID equal to doc: its body, and its attachments
	// read from open(name). It replaces whatever revision is there and
	// creates the database when missing.
	RawPut(ctx context.Context, db string, doc *RawDoc, open func(name string) (io.ReadCloser, error)) error
	// RawAttachment opens attachment name of db/id.
	RawAttachment(ctx context.Context, db, id, name string) (io.ReadCloser, error)
	// RawPutMany is RawPut for many documents without attachments, in as
	// few transactions or requests as the store allows (bulk copies and
	// seeding large data sets): each document replaces whatever is stored
	// (its attachments included) with a new revision. A document with
	// attachments refuses the whole batch before anything is written; an
	// empty batch does nothing. Documents the store refuses are named in
	// the error; whether the others were written depends on the store
	// (all or none on the embedded store).
	RawPutMany(ctx context.Context, db string, docs []*RawDoc) error
	// RawGetMany is RawGet for many documents in one read: the documents
	// of ids that exist (deleted ones do not), by id. A missing database
	// holds no documents.
	RawGetMany(ctx context.Context, db string, ids []string) (map[string]*RawDoc, error)
}

// RawDoc is a document without its store bookkeeping: Body holds every
// member but _id, _rev and _attachments; Attachments their metadata, whose
// md5 Digest tells whether two copies carry the same bytes.
type RawDoc struct {
	ID          string
	Body        json.RawMessage
	Attachments map[string]Attachment
}

// SplitRaw separates a stored document into a RawDoc.
func SplitRaw(stored []byte) (*RawDoc, error) {
	var doc Fields
	if err := json.Unmarshal(stored, &doc); err != nil {
		return nil, err
	}
	out := &RawDoc{ID: doc.String("_id")}
	if raw, ok := doc["_attachments"]; ok {
		if err := json.Unmarshal(raw, &out.Attachments); err != nil {
			return nil, err
		}
		for name, a := range out.Attachments {
			a.Stub, a.Revpos = false, 0
			out.Attachments[name] = a
		}
	}
	delete(doc, "_id")
	delete(doc, "_rev")
	delete(doc, "_attachments")
	body, err := json.Marshal(map[string]json.RawMessage(doc)) // sorted keys: comparable
	if err != nil {
		return nil, err
	}
	out.Body = body
	return out, nil
}

// Equal reports whether two documents have the same members and the same
// attachment types and lengths, and the same attachment bytes where the
// digests tell (DigestsComparable); the caller compares the bytes of the
// others.
func (d *RawDoc) Equal(o *RawDoc) bool {
	if d.ID != o.ID || len(d.Attachments) != len(o.Attachments) {
		return false
	}
	for name, a := range d.Attachments {
		b, ok := o.Attachments[name]
		if !ok || a.ContentType != b.ContentType || a.Length != b.Length {
			return false
		}
		if DigestsComparable(a, b) && a.Digest != b.Digest {
			return false
		}
	}
	// Bodies from SplitRaw have sorted members: equal documents are
	// usually equal bytes, which spares decoding both.
	if bytes.Equal(d.Body, o.Body) && json.Valid(d.Body) {
		return true
	}
	return canonicalEqual(d.Body, o.Body)
}

// DigestsComparable reports whether equal bytes give a and b equal digests:
// both are MD5s of the bytes as they are, not of a compressed form.
func DigestsComparable(a, b Attachment) bool {
	return a.Encoding == "" && b.Encoding == "" && a.Digest != "" && b.Digest != ""
}

func canonicalEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ca, _ := json.Marshal(x)
	cb, _ := json.Marshal(y)
	return string(ca) == string(cb)
}
