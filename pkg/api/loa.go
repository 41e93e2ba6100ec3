package api

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/portreqd/portreqd/pkg/loa"
	"github.com/portreqd/portreqd/pkg/porting"
)

// getLOA answers the Letter of Authorization as a PDF. It is generated on
// each call (milliseconds) and deterministic for a given request, so clients
// and proxies may cache it.
func (a *API) getLOA(c *call) (*reply, error) {
	acct, id, err := c.requestIDs()
	if err != nil {
		return nil, err
	}
	if c.r.URL.Query().Get("accept") != "pdf" && !acceptsPDF(c.r.Header.Get("Accept")) {
		return nil, &porting.Error{Kind: porting.KindNotAcceptable, Message: "not acceptable",
			Data: map[string]any{"message": "the LOA is a PDF: send Accept: application/pdf (or ?accept=pdf)"}}
	}
	d, err := a.svc.LOA(c.r.Context(), c.actor, acct, id)
	if err != nil {
		return nil, err
	}
	release, err := a.renders.acquire(c.r.Context())
	if err != nil {
		return nil, err
	}
	pdf, err := loa.Render(loa.FromData(d))
	release()
	if err != nil {
		return nil, err
	}
	h := c.w.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Disposition", contentDisposition(d.Request.LOAFileName()))
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(pdf)
	return nil, nil
}

// acceptsPDF reports whether an Accept header admits the LOA: as Kazoo's
// negotiation offers application/pdf first, an absent header, */*,
// application/* and both PDF types do (curl and browsers send */*).
func acceptsPDF(accept string) bool {
	if strings.TrimSpace(accept) == "" {
		return true
	}
	return preferred(accept, "application/pdf", "application/x-pdf", "application/*", "*/*") != ""
}

// contentDisposition names a download; mime encodes non-ASCII names
// (RFC 2231) so that "Société.pdf" survives the header.
func contentDisposition(name string) string {
	if v := mime.FormatMediaType("attachment", map[string]string{"filename": name}); v != "" {
		return v
	}
	return "attachment"
}

// putLOALogo stores the account's LOA logo (PUT /v2/accounts/{A}/loa_logo
// with Content-Type image/png or image/jpeg).
func (a *API) putLOALogo(c *call) (*reply, error) {
	acct, err := c.pathID("account_id")
	if err != nil {
		return nil, err
	}
	ct, _, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, porting.MaxLogoBytes))
	if err != nil {
		return nil, &porting.Error{Kind: porting.KindTooLarge, Message: "file too large", Data: map[string]any{
			"file": map[string]any{"maxSize": map[string]any{"message": fmt.Sprintf("Files must not be more than %d bytes", porting.MaxLogoBytes)}}}}
	}
	if ct != "image/png" && ct != "image/jpeg" {
		// refused by the service as an unsupported media type
	} else if err := loa.CheckLogo(body); err != nil {
		return nil, porting.ValidationError("loa_logo", "image", strings.TrimPrefix(err.Error(), loa.ErrLogo.Error()+": "), nil)
	}
	up := porting.Upload{Name: porting.LogoName, ContentType: ct, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(body)), nil
	}}
	acc, err := a.svc.SetLOALogo(c.r.Context(), c.actor, acct, up)
	if err != nil {
		return nil, err
	}
	return &reply{status: http.StatusCreated, data: map[string]any{}, revision: acc.Rev}, nil
}
