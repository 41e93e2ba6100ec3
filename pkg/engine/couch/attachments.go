package couch

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	kivik "github.com/go-kivik/kivik/v4"

	"github.com/portreqd/portreqd/pkg/engine"
)

// PutAttachment streams body in: kivik hands it to net/http unread, so
// with no size known the upload goes out chunked, never held in memory.
func (e *Engine) PutAttachment(ctx context.Context, db, id, rev, name, contentType string, body io.Reader) (string, error) {
	if rev == "" {
		// kivik would send ?rev= (CouchDB: 400 invalid rev format); a
		// write that does not name the revision it read is a lost update.
		return "", fmt.Errorf("%w: attachment of %s without a revision", engine.ErrConflict, id)
	}
	if name == "" {
		return "", fmt.Errorf("%w: attachment without a name", engine.ErrBadRequest)
	}
	n, err := e.ensureKnown(ctx, db)
	if err != nil {
		return "", err
	}
	var newRev string
	err = e.leased(ctx, n, db, id, func() error {
		wctx, ws := withWriteStatus(ctx)
		var err error
		newRev, err = e.client.DB(db).PutAttachment(wctx, id, &kivik.Attachment{
			Filename:    escapeAttName(name),
			ContentType: contentType,
			Content:     io.NopCloser(body),
		}, append(writeOpts(n), kivik.Rev(rev))...)
		if clusterRaceFault(n, err) {
			return fmt.Errorf("%w: %v", engine.ErrConflict, err)
		}
		if err != nil && kivik.HTTPStatus(err) == http.StatusBadGateway && ctx.Err() == nil {
			// No answer read (kivik's 502 for a transport error; CouchDB never
			// sends one): CouchDB may have refused the upload (409 at
			// a stale revision) and closed the connection while the body
			// was still going out, which the client sees as "broken pipe"
			// (seen under load). If the document has moved on, that was
			// the conflict.
			if cur, gerr := e.client.DB(db).GetRev(ctx, id); gerr == nil && cur != rev {
				return fmt.Errorf("%w: %v", engine.ErrConflict, err)
			}
		}
		if err != nil {
			return mapErr(err)
		}
		return e.afterWrite(ctx, db, id, newRev, writeUpdate, ws)
	})
	return newRev, err
}

// GetAttachment opens attachment name of id.
func (e *Engine) GetAttachment(ctx context.Context, db, id, name string) (*engine.Attachment, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: attachment without a name", engine.ErrNotFound)
	}
	att, err := e.client.DB(db).GetAttachment(ctx, id, escapeAttName(name))
	if err != nil {
		return nil, mapErr(err)
	}
	return &engine.Attachment{ContentType: att.ContentType, Length: att.Size, Digest: att.Digest, Body: att.Content}, nil
}

var _ engine.AttachmentsAt = (*Engine)(nil)

// GetAttachmentAt opens attachment name as revision rev of document id
// holds it.
func (e *Engine) GetAttachmentAt(ctx context.Context, db, id, name, rev string) (*engine.Attachment, error) {
	if name == "" || rev == "" {
		return nil, fmt.Errorf("%w: attachment without a name or revision", engine.ErrNotFound)
	}
	att, err := e.client.DB(db).GetAttachment(ctx, id, escapeAttName(name), kivik.Rev(rev))
	if err != nil {
		return nil, mapErr(err)
	}
	return &engine.Attachment{ContentType: att.ContentType, Length: att.Size, Digest: att.Digest, Body: att.Content}, nil
}

// escapeAttName escapes an attachment name for the URL path. kivik escapes
// document ids but pastes attachment names in as they are, so a name with
// a space, "?", "#", "/" or "%" would reach the wrong URL.
func escapeAttName(name string) string {
	return strings.ReplaceAll(url.QueryEscape(name), "+", "%20")
}
