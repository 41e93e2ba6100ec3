package porting_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/portreqd/portreqd/pkg/porting"
)

// upload is an Upload of body.
func upload(name, contentType, body string) porting.Upload {
	return porting.Upload{Name: name, ContentType: contentType,
		Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }}
}

const minimalPDF = "%PDF-1.4\n%%EOF\n"

// TestAttachmentRules: names (Kazoo's generated name, ".pdf" added),
// types, a PDF type must carry a PDF, replacing needs the name to exist,
// deletion only in the states where the request may be deleted, and who
// may do what — with no HTTP.
func TestAttachmentRules(t *testing.T) {
	w := newWorld(t, porting.Rules{})
	ctx := context.Background()
	r := w.request(t, "+13125550150")
	cases := []struct {
		name      string
		actor     func() *porting.Account
		u         porting.Upload
		mustExist bool
		wantName  string // the stored name; "" with wantKind
		wantKind  porting.Kind
	}{
		{name: "raw PDF, .pdf added", u: upload("bill", "application/pdf", minimalPDF), wantName: "bill.pdf"},
		{name: "data URI PDF", u: upload("loa.PDF", "application/pdf", "data:application/pdf;base64,JVBERi0xLjQK"), wantName: "loa.PDF"},
		{name: "text kept as named", u: upload("notes", "text/plain", "hello"), wantName: "notes"},
		{name: "no name: generated", u: upload("  ", "application/octet-stream", "x"), wantName: "uploaded_file_"},
		{name: "a PDF type that is no PDF", u: upload("fake", "application/pdf", "<html>"), wantKind: porting.KindUnsupportedMedia},
		{name: "an image", u: upload("logo", "image/png", "\x89PNG"), wantKind: porting.KindUnsupportedMedia},
		{name: "underscore name", u: upload("_design", "text/plain", "x"), wantKind: porting.KindValidation},
		{name: "slash in the name", u: upload("a/b", "text/plain", "x"), wantKind: porting.KindValidation},
		{name: "replacing a name that is not there", u: upload("missing", "text/plain", "x"), mustExist: true, wantKind: porting.KindNotFound},
		{name: "replacing one that is", u: upload("notes", "text/plain", "new"), mustExist: true, wantName: "notes"},
		{name: "a stranger", actor: func() *porting.Account { return w.stranger }, u: upload("x", "text/plain", "x"), wantKind: porting.KindForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			actor := w.customer
			if c.actor != nil {
				actor = c.actor()
			}
			_, err := w.svc.PutAttachment(ctx, actor, w.customer.ID, r.ID, c.u, c.mustExist)
			if c.wantKind != 0 {
				if !porting.IsKind(err, c.wantKind) {
					t.Fatalf("error %v, want kind %v", err, c.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := w.svc.ListAttachments(ctx, actor, w.customer.ID, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			found := ""
			for n := range got.Attachments {
				if n == c.wantName || strings.HasSuffix(c.wantName, "_") && strings.HasPrefix(n, c.wantName) {
					found = n
				}
			}
			if found == "" {
				t.Fatalf("stored names %v, want %q", got.Attachments, c.wantName)
			}
			a, err := w.svc.GetAttachment(ctx, actor, w.customer.ID, r.ID, found)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(a.Body)
			a.Body.Close()
			want, _ := io.ReadAll(must(c.u.Open()))
			if !bytes.Equal(body, want) {
				t.Errorf("%s reads %q, want %q", found, body, want)
			}
		})
	}

	// Deletion follows the request's own deletability.
	if _, err := w.svc.DeleteAttachment(ctx, w.customer, w.customer.ID, r.ID, "nope"); !porting.IsKind(err, porting.KindNotFound) {
		t.Errorf("deleting a missing attachment: %v, want not found", err)
	}
	if _, err := w.svc.DeleteAttachment(ctx, w.customer, w.customer.ID, r.ID, "notes"); err != nil {
		t.Errorf("deleting from an unconfirmed request: %v", err)
	}
	sub := w.request(t, "+13125550151", porting.Submitted)
	if _, err := w.svc.PutAttachment(ctx, w.customer, w.customer.ID, sub.ID, upload("late", "text/plain", "x"), false); err != nil {
		t.Fatalf("upload to a submitted request: %v", err)
	}
	if _, err := w.svc.DeleteAttachment(ctx, w.customer, w.customer.ID, sub.ID, "late"); !porting.IsKind(err, porting.KindMethodNotAllowed) {
		t.Errorf("deleting from a submitted request: %v, want method not allowed", err)
	}
}

func must(rc io.ReadCloser, err error) io.ReadCloser {
	if err != nil {
		panic(err)
	}
	return rc
}
