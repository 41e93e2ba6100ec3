package kazoo

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/porting"
)

// Raw access (porting.RawStore): the databases as documents, the view
// migration copies through. db is a Kazoo name; the prefix is applied.

// rawPage is how many documents one _all_docs read takes during a copy.
const rawPage = 200

// Raw reads ask for attachment encoding info: CouchDB keeps compressible
// attachments (text/plain among them) gzipped and reports the digest of
// the gzip, which cannot be compared with another store's MD5 of the
// bytes. With it the stub says "encoding":"gzip", which SplitRaw keeps in
// porting.Attachment.Encoding, and porting.DigestsComparable then leaves
// that digest out of a comparison (pkg/migrate compares the bytes
// instead). The embedded engine keeps no encoding: its digests are always
// the bytes' MD5.
var rawGet = engine.GetOptions{AttEncodingInfo: true}

// RawDocs pages through _all_docs with its documents, in id order. It
// resumes with startkey = the last id and skip=1 (pouchdb-server ignores
// startkey_docid, but honours skip).
func (s *Store) RawDocs(ctx context.Context, db string, fn func(*porting.RawDoc) error) error {
	var last []byte
	for {
		q := engine.Query{IncludeDocs: true, AttEncodingInfo: true, Limit: rawPage}
		if last != nil {
			q.StartKey, q.Skip = last, 1
		}
		n := 0
		err := s.eng.AllDocs(ctx, s.db(db), q, func(r engine.Row) error {
			n++
			last = mustJSON(r.ID)
			if strings.HasPrefix(r.ID, "_design/") || r.Doc == nil {
				return nil
			}
			doc, err := porting.SplitRaw(r.Doc)
			if err != nil {
				return porting.Wrap(porting.KindInternal, "decode "+db+"/"+r.ID, err)
			}
			return fn(doc)
		})
		if isNotFound(err) {
			return nil // no such database: nothing to copy
		}
		if err != nil {
			return storeErr(err, "")
		}
		if n < rawPage {
			return nil
		}
	}
}

// RawGet reads one document, with attachment encoding info (rawGet).
func (s *Store) RawGet(ctx context.Context, db, id string) (*porting.RawDoc, error) {
	raw, err := s.eng.Get(ctx, s.db(db), id, rawGet)
	if isNotFound(err) {
		return nil, porting.NotFound(id)
	}
	if err != nil {
		return nil, storeErr(err, id)
	}
	return porting.SplitRaw(raw)
}

// RawPut writes the body at the current revision (creating the database on
// demand), then streams each attachment in, one revision each.
func (s *Store) RawPut(ctx context.Context, db string, doc *porting.RawDoc, open func(string) (io.ReadCloser, error)) error {
	var body map[string]json.RawMessage
	if err := json.Unmarshal(doc.Body, &body); err != nil {
		return porting.Wrap(porting.KindInternal, "encode "+doc.ID, err)
	}
	if _, err := s.dbExists(ctx, db, true); err != nil {
		return err
	}
	cur, err := s.eng.Get(ctx, s.db(db), doc.ID, engine.GetOptions{})
	switch {
	case isNotFound(err):
		delete(body, "_rev")
	case err != nil:
		return storeErr(err, doc.ID)
	default:
		body["_rev"] = mustJSON(revOf(cur))
	}
	delete(body, "_attachments")
	out, err := encode(body, doc.ID)
	if err != nil {
		return err
	}
	rev, err := s.createDoc(ctx, db, doc.ID, out)
	if err != nil {
		return err
	}
	for name, a := range doc.Attachments {
		rc, err := open(name)
		if err != nil {
			return err
		}
		rev, err = s.eng.PutAttachment(ctx, s.db(db), doc.ID, rev, name, a.ContentType, rc)
		rc.Close()
		if err != nil {
			return storeErr(err, doc.ID)
		}
	}
	return nil
}

// RawAttachment opens an attachment of any document.
func (s *Store) RawAttachment(ctx context.Context, db, id, name string) (io.ReadCloser, error) {
	att, err := s.eng.GetAttachment(ctx, s.db(db), id, name)
	if err != nil {
		return nil, storeErr(err, name)
	}
	if att.Body == nil {
		return nil, errors.New("kazoo: attachment without content")
	}
	return att.Body, nil
}

// RawGetMany reads the live documents of ids in one request, with
// attachment encoding info as RawGet; a missing database holds none.
func (s *Store) RawGetMany(ctx context.Context, db string, ids []string) (map[string]*porting.RawDoc, error) {
	out := make(map[string]*porting.RawDoc, len(ids))
	if exists, err := s.dbExists(ctx, db, false); err != nil || !exists {
		return out, err
	}
	q := engine.Query{AttEncodingInfo: rawGet.AttEncodingInfo}
	err := s.docsByIDWith(ctx, db, ids, q, func(raw []byte) error {
		doc, err := porting.SplitRaw(raw)
		if err != nil {
			return porting.Wrap(porting.KindInternal, "kazoo: decode a document of "+db, err)
		}
		out[doc.ID] = doc
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
