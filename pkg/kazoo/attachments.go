package kazoo

import (
	"context"
	"encoding/json"
	"io"

	"github.com/portreqd/portreqd/pkg/porting"
)

// PutAttachment streams body into attachment name of request id at rev and
// returns the new revision; the engine never holds the body whole.
func (s *Store) PutAttachment(ctx context.Context, id, rev, name, contentType string, body io.Reader) (string, error) {
	return s.putAttachment(ctx, dbPortRequests, id, rev, name, contentType, body)
}

// PutAccountAttachment is PutAttachment on an account document (an LOA logo).
func (s *Store) PutAccountAttachment(ctx context.Context, id, rev, name, contentType string, body io.Reader) (string, error) {
	return s.putAttachment(ctx, dbAccounts, id, rev, name, contentType, body)
}

// GetAttachment opens attachment name of request id; the caller closes
// Body. KindNotFound names the attachment: the document was read before.
func (s *Store) GetAttachment(ctx context.Context, id, name string) (*porting.AttachmentReader, error) {
	return s.getAttachment(ctx, dbPortRequests, id, name)
}

// GetAccountAttachment opens attachment name of account id.
func (s *Store) GetAccountAttachment(ctx context.Context, id, name string) (*porting.AttachmentReader, error) {
	return s.getAttachment(ctx, dbAccounts, id, name)
}

func (s *Store) putAttachment(ctx context.Context, db, id, rev, name, contentType string, body io.Reader) (string, error) {
	if name == "" {
		return "", porting.E(porting.KindInternal, "kazoo: attachment without name")
	}
	if rev == "" {
		return "", conflict() // a write that names no revision is a lost update
	}
	newRev, err := s.eng.PutAttachment(ctx, s.db(db), id, rev, name, contentType, body)
	return newRev, storeErr(err, id)
}

func (s *Store) getAttachment(ctx context.Context, db, id, name string) (*porting.AttachmentReader, error) {
	if name == "" {
		return nil, porting.NotFound(name)
	}
	att, err := s.eng.GetAttachment(ctx, s.db(db), id, name)
	if err != nil {
		return nil, storeErr(err, name)
	}
	return &porting.AttachmentReader{ContentType: att.ContentType, Length: att.Length, Body: att.Body}, nil
}

// DeleteAttachment removes attachment name at rev and returns the new
// revision. It rewrites the document without the attachment (the other
// attachments go back as stubs, which keeps their bodies) instead of
// deleting the attachment alone, which the engine does not offer and
// pouchdb-server answers wrongly. The write carries rev, so a concurrent
// writer still makes it fail with KindConflict.
func (s *Store) DeleteAttachment(ctx context.Context, id, rev, name string) (string, error) {
	if rev == "" {
		return "", conflict()
	}
	raw, err := s.getDoc(ctx, dbPortRequests, id)
	if err != nil {
		return "", err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return "", porting.Wrap(porting.KindInternal, "decode port request", err)
	}
	if revOf(raw) != rev {
		return "", conflict()
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
		doc["_attachments"] = mustJSON(atts)
	}
	body, err := encode(doc, "port request")
	if err != nil {
		return "", err
	}
	return s.put(ctx, dbPortRequests, id, body)
}
