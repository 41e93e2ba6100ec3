package api

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/portreqd/portreqd/pkg/porting"
)

func (a *API) listAttachments(c *call) (*reply, error) {
	acct, id, err := c.requestIDs()
	if err != nil {
		return nil, err
	}
	r, err := a.svc.ListAttachments(c.r.Context(), c.actor, acct, id)
	if err != nil {
		return nil, err
	}
	return &reply{data: r.Uploads(), revision: r.Rev}, nil
}

func (a *API) putAttachment(c *call) (*reply, error)     { return a.storeAttachment(c, false) }
func (a *API) replaceAttachment(c *call) (*reply, error) { return a.storeAttachment(c, true) }

// storeAttachment spools the body to a temporary file, bounded by
// --max-upload-bytes, so that memory stays flat whatever the size and a
// write lost to a conflict can be replayed.
func (a *API) storeAttachment(c *call, replace bool) (*reply, error) {
	acct, id, err := c.requestIDs()
	if err != nil {
		return nil, err
	}
	release, err := a.uploads.acquire(c.r.Context())
	if err != nil {
		return nil, err
	}
	defer release()
	ct, _, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if ct == "" {
		ct = "application/octet-stream"
	}
	name := c.r.URL.Query().Get("filename")
	if replace {
		name = vars(c.r)["name"]
	}
	if c.r.ContentLength > a.maxUpload {
		return nil, a.tooLarge()
	}
	f, err := os.CreateTemp("", "portreqd-upload-*")
	if err != nil {
		return nil, err
	}
	defer func() { f.Close(); os.Remove(f.Name()) }()
	if _, err := io.Copy(f, http.MaxBytesReader(c.w, c.r.Body, a.maxUpload)); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, a.tooLarge()
		}
		return nil, porting.Wrap(porting.KindInvalidJSON, "invalid json", err)
	}
	up := porting.Upload{Name: name, ContentType: ct, Open: func() (io.ReadCloser, error) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		return io.NopCloser(f), nil
	}}
	rev, err := a.svc.PutAttachment(c.r.Context(), c.actor, acct, id, up, replace)
	if err != nil {
		return nil, err
	}
	status := http.StatusCreated
	if replace {
		status = http.StatusOK
	}
	return &reply{status: status, data: map[string]any{}, revision: rev}, nil
}

func (a *API) tooLarge() error {
	return &porting.Error{Kind: porting.KindTooLarge, Message: "file too large", Data: map[string]any{
		"file": map[string]any{"maxSize": map[string]any{
			"message": "Files must not be more than " + strconv.FormatInt(a.maxUpload, 10) + " bytes"}}}}
}

func (a *API) deleteAttachment(c *call) (*reply, error) {
	acct, id, err := c.requestIDs()
	if err != nil {
		return nil, err
	}
	rev, err := a.svc.DeleteAttachment(c.r.Context(), c.actor, acct, id, vars(c.r)["name"])
	if err != nil {
		return nil, err
	}
	return &reply{data: map[string]any{}, revision: rev}, nil
}

// getAttachment streams an attachment, negotiated on Accept: a client
// preferring PDF gets PDF bytes (decoded when stored as a data URI), one
// preferring text/plain (Monster UI) gets the data-URI text (encoded when
// stored raw); otherwise the stored body as stored.
func (a *API) getAttachment(c *call) (*reply, error) {
	acct, id, err := c.requestIDs()
	if err != nil {
		return nil, err
	}
	name := vars(c.r)["name"]
	att, err := a.svc.GetAttachment(c.r.Context(), c.actor, acct, id, name)
	if err != nil {
		return nil, err
	}
	defer att.Body.Close()
	br := bufio.NewReaderSize(att.Body, 64*1024)
	head, _ := br.Peek(64)
	storedAsDataURI := bytes.HasPrefix(head, []byte("data:"))
	h := c.w.Header()
	h.Set("Content-Disposition", contentDisposition(porting.SafeFileName(name)))
	switch preferred(c.r.Header.Get("Accept"), "application/pdf", "application/x-pdf", "text/plain") {
	case "application/pdf", "application/x-pdf":
		h.Set("Content-Type", "application/pdf")
		c.w.WriteHeader(http.StatusOK)
		if storedAsDataURI {
			_, _ = io.Copy(c.w, dataURIDecoder(br))
			return nil, nil
		}
		_, _ = io.Copy(c.w, br)
	case "text/plain":
		h.Set("Content-Type", "text/plain")
		c.w.WriteHeader(http.StatusOK)
		if storedAsDataURI || !porting.IsPDFType(att.ContentType) {
			_, _ = io.Copy(c.w, br)
			return nil, nil
		}
		_, _ = io.WriteString(c.w, "data:"+att.ContentType+";base64,")
		enc := base64.NewEncoder(base64.StdEncoding, c.w)
		_, _ = io.Copy(enc, br)
		_ = enc.Close()
	default:
		h.Set("Content-Type", att.ContentType)
		if att.Length > 0 {
			h.Set("Content-Length", strconv.FormatInt(att.Length, 10))
		}
		c.w.WriteHeader(http.StatusOK)
		_, _ = io.Copy(c.w, br)
	}
	return nil, nil
}

// dataURIDecoder skips "data:…;base64," and decodes the rest.
func dataURIDecoder(r *bufio.Reader) io.Reader {
	if _, err := r.ReadSlice(','); err != nil {
		return strings.NewReader("")
	}
	return base64.NewDecoder(base64.StdEncoding, r)
}

// preferred returns which of offers the Accept header ranks highest by
// q-value (ties go to the earlier entry in the header), "" when no offer is
// named explicitly (a bare */* keeps the stored form).
func preferred(accept string, offers ...string) string {
	best, bestQ := "", -1.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		for _, o := range offers {
			if mt == o && q > bestQ && q > 0 {
				best, bestQ = o, q
			}
		}
	}
	return best
}
