package couchstore

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	kivik "github.com/go-kivik/kivik/v4"

	"github.com/portreqd/portreqd/pkg/porting"
)

var _ porting.RawStore = (*Store)(nil)

// rawPage is how many documents one _all_docs call reads during a copy.
const rawPage = 200

// RawDocs pages through _all_docs with include_docs. It resumes with
// startkey = the last id and skip=1 (pouchdb-server ignores
// startkey_docid, but honours skip).
func (s *Store) RawDocs(ctx context.Context, db string, fn func(*porting.RawDoc) error) error {
	last := ""
	for {
		params := map[string]any{"include_docs": true, "limit": rawPage, "att_encoding_info": true}
		if last != "" {
			params["startkey"] = last
			params["skip"] = 1
		}
		rs := s.db(db).AllDocs(ctx, kivik.Params(params))
		n := 0
		for rs.Next() {
			n++
			id, _ := rs.ID()
			last = id
			if strings.HasPrefix(id, "_design/") {
				continue
			}
			var raw json.RawMessage
			if err := rs.ScanDoc(&raw); err != nil {
				rs.Close()
				return storeErr(err, id)
			}
			doc, err := porting.SplitRaw(raw)
			if err != nil {
				rs.Close()
				return porting.Wrap(porting.KindInternal, "decode "+db+"/"+id, err)
			}
			if err := fn(doc); err != nil {
				rs.Close()
				return err
			}
		}
		err := rs.Err()
		rs.Close()
		if kivik.HTTPStatus(err) == http.StatusNotFound {
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

// encodingInfo asks CouchDB to say which attachments it keeps compressed:
// it gzips compressible types (text/plain among them) and their digest is
// then the MD5 of the gzip, not of the bytes, so it cannot be compared with
// another store's (porting.Attachment.Encoding).
var encodingInfo = kivik.Param("att_encoding_info", true)

// RawGet reads one document.
func (s *Store) RawGet(ctx context.Context, db, id string) (*porting.RawDoc, error) {
	var raw json.RawMessage
	if err := s.db(db).Get(ctx, id, encodingInfo).ScanDoc(&raw); err != nil {
		if kivik.HTTPStatus(err) == http.StatusNotFound {
			return nil, porting.NotFound(id)
		}
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
	var cur struct {
		Rev string `json:"_rev"`
	}
	err := s.db(db).Get(ctx, doc.ID).ScanDoc(&cur)
	switch {
	case kivik.HTTPStatus(err) == http.StatusNotFound:
	case err != nil:
		return storeErr(err, doc.ID)
	default:
		b, _ := json.Marshal(cur.Rev)
		body["_rev"] = b
	}
	out, _ := json.Marshal(body)
	var rev string
	if cur.Rev == "" {
		rev, err = s.createDoc(ctx, db, doc.ID, out)
	} else {
		rev, err = s.put(ctx, db, doc.ID, cur.Rev, out)
		err = storeErr(err, doc.ID)
	}
	if err != nil {
		return err
	}
	for name, a := range doc.Attachments {
		rc, err := open(name)
		if err != nil {
			return err
		}
		rev, err = s.db(db).PutAttachment(ctx, doc.ID, &kivik.Attachment{
			Filename: escapeAttName(name), ContentType: a.ContentType, Content: rc,
		}, append(s.writeOpts(), kivik.Rev(rev))...)
		rc.Close()
		if err != nil {
			return storeErr(err, doc.ID)
		}
	}
	return nil
}

// RawAttachment opens an attachment of any document.
func (s *Store) RawAttachment(ctx context.Context, db, id, name string) (io.ReadCloser, error) {
	att, err := s.db(db).GetAttachment(ctx, id, escapeAttName(name))
	if err != nil {
		return nil, storeErr(err, name)
	}
	if att.Content == nil {
		return nil, errors.New("couchstore: attachment without content")
	}
	return att.Content, nil
}
