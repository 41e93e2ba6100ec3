package couchstore

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"

	kivik "github.com/go-kivik/kivik/v4"

	"github.com/portreqd/portreqd/pkg/porting"
)

// PutAttachment streams body into attachment name of request id at rev and
// returns the new revision (read by kivik from the JSON body, not from the
// ETag). kivik hands Content to net/http as the request body without
// reading it first; with no size known the upload goes out chunked, which
// CouchDB and pouchdb-server accept. So an upload is never held in memory.
func (s *Store) PutAttachment(ctx context.Context, id, rev, name, contentType string, body io.Reader) (string, error) {
	return s.putAttachment(ctx, dbPortRequests, id, rev, name, contentType, body)
}

// PutAccountAttachment is PutAttachment on an account document (an LOA logo).
func (s *Store) PutAccountAttachment(ctx context.Context, id, rev, name, contentType string, body io.Reader) (string, error) {
	return s.putAttachment(ctx, dbAccounts, id, rev, name, contentType, body)
}

// GetAccountAttachment opens attachment name of account id.
func (s *Store) GetAccountAttachment(ctx context.Context, id, name string) (*porting.AttachmentReader, error) {
	return s.getAttachment(ctx, s.accounts, id, name)
}

func (s *Store) putAttachment(ctx context.Context, db, id, rev, name, contentType string, body io.Reader) (string, error) {
	if name == "" {
		return "", porting.E(porting.KindInternal, "couchstore: attachment without name")
	}
	if rev == "" {
		// kivik would send ?rev= (CouchDB: 400 invalid rev format); a write
		// that does not name the revision it read is a lost update.
		return "", porting.E(porting.KindConflict, "datastore conflict")
	}
	var newRev string
	err := s.leased(ctx, db, id, func() error {
		wctx, ws := withWriteStatus(ctx)
		var err error
		newRev, err = s.db(db).PutAttachment(wctx, id, &kivik.Attachment{
			Filename:    escapeAttName(name),
			ContentType: contentType,
			Content:     io.NopCloser(body),
		}, append(s.writeOpts(), kivik.Rev(rev))...)
		if err != nil {
			return err
		}
		return s.afterWrite(ctx, db, id, newRev, writeUpdate, ws)
	})
	if err != nil && s.writeN > 1 && kivik.HTTPStatus(err) == http.StatusInternalServerError &&
		strings.Contains(err.Error(), "function_clause") {
		// CouchDB 3.4.3 on a cluster: racing uploads to one document
		// sometimes fail on every copy in couch_att:flush_data (the
		// streamed body is gone); nothing was written. The caller reads
		// again and uploads again, as after a conflict.
		return "", porting.Wrap(porting.KindConflict, "datastore conflict", err)
	}
	if err != nil && kivik.HTTPStatus(err) == http.StatusBadGateway && ctx.Err() == nil {
		// No answer read (kivik's 502 for a transport error; CouchDB never
		// sends one): CouchDB may have refused the upload (409 at a
		// stale revision) and closed the connection while the body was
		// still going out, which the client sees as "broken pipe" (seen
		// under load). If the document has moved on, that was the
		// conflict; the caller reads again and re-opens the body.
		if cur, gerr := s.db(db).GetRev(ctx, id); gerr == nil && cur != rev {
			return "", porting.Wrap(porting.KindConflict, "datastore conflict", err)
		}
	}
	if err != nil {
		return "", storeErr(err, id)
	}
	return newRev, nil
}

// GetAttachment opens attachment name of request id; the caller closes
// Body. KindNotFound names the attachment: the document was read before.
func (s *Store) GetAttachment(ctx context.Context, id, name string) (*porting.AttachmentReader, error) {
	return s.getAttachment(ctx, s.requests, id, name)
}

func (s *Store) getAttachment(ctx context.Context, db *kivik.DB, id, name string) (*porting.AttachmentReader, error) {
	if name == "" {
		return nil, porting.NotFound(name)
	}
	att, err := db.GetAttachment(ctx, id, escapeAttName(name))
	if err != nil {
		return nil, storeErr(err, name)
	}
	return &porting.AttachmentReader{ContentType: att.ContentType, Length: att.Size, Body: att.Content}, nil
}

// DeleteAttachment removes attachment name at rev and returns the new
// revision. It rewrites the document without the attachment instead of
// sending DELETE /db/id/name: pouchdb-server answers that DELETE at a stale
// revision with 400/500 instead of 409, and for a name the document lacks it
// writes a new revision where CouchDB answers 404. The PUT carries rev, so
// a concurrent writer still makes it fail with KindConflict; the other
// attachments go back as stubs, which keeps their bodies.
func (s *Store) DeleteAttachment(ctx context.Context, id, rev, name string) (string, error) {
	if rev == "" {
		return "", porting.E(porting.KindConflict, "datastore conflict")
	}
	var doc map[string]json.RawMessage
	if err := s.requests.Get(ctx, id).ScanDoc(&doc); err != nil {
		return "", storeErr(err, id)
	}
	var current string
	_ = json.Unmarshal(doc["_rev"], &current)
	if current != rev {
		return "", porting.E(porting.KindConflict, "datastore conflict")
	}
	var atts map[string]json.RawMessage
	_ = json.Unmarshal(doc["_attachments"], &atts)
	if _, ok := atts[name]; !ok {
		return "", porting.NotFound(name)
	}
	delete(atts, name)
	if len(atts) == 0 {
		delete(doc, "_attachments")
	} else {
		b, err := json.Marshal(atts)
		if err != nil {
			return "", porting.Wrap(porting.KindInternal, "encode attachments", err)
		}
		doc["_attachments"] = b
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return "", porting.Wrap(porting.KindInternal, "encode port request", err)
	}
	newRev, err := s.put(ctx, dbPortRequests, id, rev, body)
	if err != nil {
		return "", storeErr(err, id)
	}
	return newRev, nil
}

// escapeAttName escapes an attachment name for the URL path. kivik escapes
// document ids but pastes attachment names in as they are, so a name with
// a space, "?", "#", "/" or "%" (uploads are named by clients) would reach
// the wrong URL or make kivik panic. Encoded as kivik encodes ids.
func escapeAttName(name string) string {
	return strings.ReplaceAll(url.QueryEscape(name), "+", "%20")
}
