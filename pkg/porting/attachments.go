package porting

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// AttachmentTypes are the content types an attachment may have.
var AttachmentTypes = map[string]bool{
	"application/pdf": true, "application/x-pdf": true,
	"application/octet-stream": true, "text/plain": true,
}

// IsPDFType reports whether ct names a PDF.
func IsPDFType(ct string) bool { return ct == "application/pdf" || ct == "application/x-pdf" }

// Upload is an attachment body the API layer has already bounded and
// spooled, so that a write lost to a conflict can be retried from the start.
type Upload struct {
	Name        string // as the client named it ("" = generated)
	ContentType string
	Open        func() (io.ReadCloser, error)
}

// AttachmentName applies Kazoo's naming: a generated name when none is
// given, and ".pdf" appended to a PDF's name that lacks it. A name that is
// not UTF-8 is refused, as JSON bodies are: it is a member name of the
// stored document, and stores refuse names that are not UTF-8.
func AttachmentName(name, contentType string, now int64) (string, error) {
	if !utf8.ValidString(name) {
		return "", ValidationError("filename", "pattern", "file names must be UTF-8", nil)
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = fmt.Sprintf("uploaded_file_%d", now)
	}
	if strings.HasPrefix(name, "_") || strings.ContainsAny(name, "/\\") || name == "." || name == ".." ||
		strings.IndexFunc(name, unsafeNameRune) >= 0 || len(name) > 255 {
		return "", ValidationError("filename", "pattern",
			"file names must not be . or .., start with _, nor contain slashes, control or bidirectional-override characters", map[string]any{"value": name})
	}
	if IsPDFType(contentType) && !strings.HasSuffix(strings.ToLower(name), ".pdf") {
		name += ".pdf"
	}
	return name, nil
}

// unsafeNameRune is a rune no attachment name may hold: control characters
// (they break headers and logs) and the bidirectional overrides and
// isolates, which make "invoice‮fdp.exe" read as "invoiceexe.pdf".
func unsafeNameRune(r rune) bool {
	return unicode.IsControl(r) || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0x200E || r == 0x200F || r == 0x061C
}

// pdfMagic starts every PDF; "JVBERi0" is its base64.
var pdfMagic = []byte("%PDF-")

// LooksLikePDF reports whether the start of a body is a PDF: raw bytes, a
// data URI or a bare base64 string that decodes to one. Monster UI uploads
// data URIs, curl raw bytes; both are stored as received.
func LooksLikePDF(head []byte) bool {
	h := bytes.TrimLeft(head, " \t\r\n")
	if bytes.HasPrefix(h, pdfMagic) {
		return true
	}
	if bytes.HasPrefix(h, []byte("\"")) { // a JSON string body
		h = h[1:]
	}
	if bytes.HasPrefix(h, []byte("data:")) {
		i := bytes.IndexByte(h, ',')
		if i < 0 || !bytes.Contains(h[:i], []byte(";base64")) {
			return false
		}
		// The URI's own type must be a PDF's too: a browser opens
		// data:text/html as a page, whatever its bytes.
		mt, _, _ := bytes.Cut(h[len("data:"):i], []byte(";"))
		switch strings.ToLower(string(mt)) {
		case "application/pdf", "application/x-pdf", "application/octet-stream", "":
		default:
			return false
		}
		h = h[i+1:]
	}
	if len(h) < 8 {
		return false
	}
	dec := make([]byte, base64.StdEncoding.DecodedLen(8))
	n, err := base64.StdEncoding.Decode(dec, h[:8])
	return err == nil && bytes.HasPrefix(dec[:n], pdfMagic)
}

// checkUploadType refuses a type outside AttachmentTypes, and a PDF type
// whose body is no PDF.
func checkUploadType(u Upload) error {
	if !AttachmentTypes[u.ContentType] {
		return &Error{Kind: KindUnsupportedMedia, Message: "unsupported media type", Data: map[string]any{
			"message": "attachments must be application/pdf, application/x-pdf, application/octet-stream or text/plain, not " + u.ContentType}}
	}
	if !IsPDFType(u.ContentType) {
		return nil
	}
	rc, err := u.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	head, _ := bufio.NewReaderSize(rc, 128).Peek(64)
	if !LooksLikePDF(head) {
		return &Error{Kind: KindUnsupportedMedia, Message: "unsupported media type", Data: map[string]any{
			"message": "the body is not a PDF (raw %PDF- bytes or a data:application/pdf;base64 URI)"}}
	}
	return nil
}

// ListAttachments returns a request's uploads.
func (s *Service) ListAttachments(ctx context.Context, actor *Account, accountID, id string) (*Request, error) {
	return s.GetRequest(ctx, actor, accountID, id)
}

// PutAttachment adds or replaces an attachment and returns the request's
// new revision. With mustExist (POST) the name must already exist. The
// write uses the current revision and is retried on conflict, so
// concurrent uploads to one request all land.
func (s *Service) PutAttachment(ctx context.Context, actor *Account, accountID, id string, u Upload, mustExist bool) (string, error) {
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return "", err
	}
	name, err := AttachmentName(u.Name, u.ContentType, s.gregorianNow())
	if err != nil {
		return "", err
	}
	if err := checkUploadType(u); err != nil {
		return "", err
	}
	var rev string
	err = s.retryConflict(ctx, func() error {
		r, err := s.requestFor(ctx, accountID, id)
		if err != nil {
			return err
		}
		if _, ok := r.Attachments[name]; mustExist && !ok {
			return NotFound(name)
		}
		if err := s.checkAttachments(r, name); err != nil {
			return err
		}
		if _, replacing := r.Attachments[name]; replacing && r.State != Unconfirmed && r.State != Rejected {
			// Submitted documents are what the authority reviews: only it
			// may replace them (deleting them is refused to everyone).
			isAuth, _, err := s.actsAsAuthority(ctx, actor, r)
			if err != nil {
				return err
			}
			if !isAuth {
				return Forbidden("the documents of a " + string(r.State) + " port request may be replaced by the port authority only; upload a new one under another name")
			}
		}
		body, err := u.Open()
		if err != nil {
			return err
		}
		defer body.Close()
		rev, err = s.store.PutAttachment(ctx, r.ID, r.Rev, name, u.ContentType, body)
		return err
	})
	return rev, err
}

// GetAttachment opens attachment name of request id.
func (s *Service) GetAttachment(ctx context.Context, actor *Account, accountID, id, name string) (*AttachmentReader, error) {
	r, err := s.GetRequest(ctx, actor, accountID, id)
	if err != nil {
		return nil, err
	}
	if _, ok := r.Attachments[name]; !ok {
		return nil, NotFound(name)
	}
	return s.store.GetAttachment(ctx, r.ID, name)
}

// DeleteAttachment removes attachment name, allowed in the states where the
// request itself may be deleted, and returns the request's new revision.
func (s *Service) DeleteAttachment(ctx context.Context, actor *Account, accountID, id, name string) (string, error) {
	if _, err := s.Authorize(ctx, actor, accountID); err != nil {
		return "", err
	}
	var rev string
	err := s.retryConflict(ctx, func() error {
		r, err := s.requestFor(ctx, accountID, id)
		if err != nil {
			return err
		}
		if _, ok := r.Attachments[name]; !ok {
			return NotFound(name)
		}
		if r.State != Unconfirmed && r.State != Rejected && r.State != Canceled {
			return &Error{Kind: KindMethodNotAllowed, Message: "invalid method",
				Data: map[string]any{"message": "attachments of a " + string(r.State) + " port request cannot be deleted"}}
		}
		rev, err = s.store.DeleteAttachment(ctx, r.ID, r.Rev, name)
		return err
	})
	return rev, err
}

// SafeFileName keeps a file name safe in a header or a MIME part: control
// characters, quotes, backslashes and slashes become "_"; a blank name
// becomes "port-request".
func SafeFileName(name string) string {
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == '"' || r == '\\' || r == '/' || r == 0x7f {
			return '_'
		}
		return r
	}, name)
	if strings.TrimSpace(name) == "" {
		return "port-request"
	}
	return name
}

// LOAFileName names r's Letter of Authorization as a download or a mail
// attachment.
func (r *Request) LOAFileName() string { return SafeFileName(r.Name()) + "-loa.pdf" }
