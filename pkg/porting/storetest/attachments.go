package storetest

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/porting"
)

var attachmentTests = []test{
	{"Attachments", testAttachments},
	{"AttachmentMetadata", testAttachmentMetadata},
	{"UpdateRequestKeepsAttachments", testUpdateRequestKeepsAttachments},
	{"AttachmentStubsDecide", testAttachmentStubsDecide},
	{"PutAttachmentStreams", testPutAttachmentStreams},
}

// PatternReader yields N bytes of a fixed pattern without holding them, and
// is no bytes.Reader, so no store can learn its size or rewind it.
type PatternReader struct{ Off, N int }

func (p *PatternReader) Read(b []byte) (int, error) {
	if p.Off >= p.N {
		return 0, io.EOF
	}
	k := min(len(b), p.N-p.Off)
	for i := range k {
		b[i] = patternByte(p.Off + i)
	}
	p.Off += k
	return k, nil
}

func patternByte(i int) byte { return byte(i*7 + i/251) }

// readAttachment reads an attachment whole via the store.
func (h *harness) readAttachment(t *testing.T, id, name string) []byte {
	t.Helper()
	a, err := h.s.GetAttachment(ctx(t), id, name)
	if err != nil {
		t.Fatalf("GetAttachment %s: %v", name, err)
	}
	defer a.Body.Close()
	b, err := io.ReadAll(a.Body)
	if err != nil {
		t.Fatalf("read attachment %s: %v", name, err)
	}
	if int64(len(b)) != a.Length {
		t.Errorf("attachment %s: read %d bytes, Length says %d", name, len(b), a.Length)
	}
	return b
}

// putAttachment stores an attachment via the store and fails the test on
// error.
func (h *harness) putAttachment(t *testing.T, id, rev, name, ct string, body io.Reader) string {
	t.Helper()
	newRev, err := h.s.PutAttachment(ctx(t), id, rev, name, ct, body)
	if err != nil {
		t.Fatalf("PutAttachment %s: %v", name, err)
	}
	return newRev
}

func testAttachments(t *testing.T, h *harness) {
	r := h.newRequest(t, reqSpec{account: newID(t), modified: 63900000000})

	const size = 3 << 20
	rev := h.putAttachment(t, r.ID, r.Rev, "big file.pdf", "application/pdf", &PatternReader{N: size})
	wantRev(t, "PutAttachment", rev, 2)
	if got := h.getRequest(t, r.ID); got.Rev != rev {
		t.Errorf("document _rev %q, PutAttachment said %q", got.Rev, rev)
	}

	a, err := h.s.GetAttachment(ctx(t), r.ID, "big file.pdf")
	if err != nil {
		t.Fatalf("GetAttachment: %v", err)
	}
	if a.ContentType != "application/pdf" || a.Length != size {
		t.Errorf("GetAttachment = %q, %d bytes; want application/pdf, %d", a.ContentType, a.Length, size)
	}
	n := 0
	buf := make([]byte, 50_000) // no divisor of any chunk size a store might use
	for {
		k, err := a.Body.Read(buf)
		for i := range k {
			if buf[i] != patternByte(n+i) {
				t.Fatalf("byte %d differs", n+i)
			}
		}
		n += k
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read body: %v", err)
		}
	}
	_ = a.Body.Close()
	if n != size {
		t.Errorf("read %d bytes, want %d", n, size)
	}

	rev = h.putAttachment(t, r.ID, rev, "plain.txt", "text/plain", strings.NewReader("v1"))
	rev = h.putAttachment(t, r.ID, rev, "empty.txt", "text/plain", strings.NewReader(""))
	if got := h.readAttachment(t, r.ID, "empty.txt"); len(got) != 0 {
		t.Errorf("empty attachment = %q", got)
	}
	// Replacing keeps one attachment of that name.
	rev = h.putAttachment(t, r.ID, rev, "plain.txt", "text/plain", strings.NewReader("v2"))
	if got := h.readAttachment(t, r.ID, "plain.txt"); string(got) != "v2" {
		t.Errorf("replaced attachment = %q", got)
	}
	stored := h.getRequest(t, r.ID).Attachments
	if len(stored) != 3 || stored["plain.txt"].Length != 2 {
		t.Errorf("attachments after replace: %+v", stored)
	}

	stale := r.Rev
	t.Run("stale put", func(t *testing.T) {
		_, err := h.s.PutAttachment(ctx(t), r.ID, stale, "x.txt", "text/plain", strings.NewReader("x"))
		wantKind(t, err, porting.KindConflict)
	})
	t.Run("put without rev", func(t *testing.T) {
		_, err := h.s.PutAttachment(ctx(t), r.ID, "", "x.txt", "text/plain", strings.NewReader("x"))
		wantKind(t, err, porting.KindConflict)
	})
	t.Run("stale delete", func(t *testing.T) {
		_, err := h.s.DeleteAttachment(ctx(t), r.ID, stale, "plain.txt")
		wantKind(t, err, porting.KindConflict)
	})
	t.Run("stale delete, rev never seen", func(t *testing.T) {
		_, err := h.s.DeleteAttachment(ctx(t), r.ID, "9-00000000000000000000000000000000", "plain.txt")
		wantKind(t, err, porting.KindConflict)
	})
	t.Run("delete without rev", func(t *testing.T) {
		_, err := h.s.DeleteAttachment(ctx(t), r.ID, "", "plain.txt")
		wantKind(t, err, porting.KindConflict)
	})
	t.Run("unknown name", func(t *testing.T) {
		_, err := h.s.GetAttachment(ctx(t), r.ID, "nope.pdf")
		wantKind(t, err, porting.KindNotFound)
		_, err = h.s.DeleteAttachment(ctx(t), r.ID, rev, "nope.pdf")
		wantKind(t, err, porting.KindNotFound)
	})
	t.Run("unknown document", func(t *testing.T) {
		_, err := h.s.GetAttachment(ctx(t), newID(t), "big file.pdf")
		wantKind(t, err, porting.KindNotFound)
		_, err = h.s.DeleteAttachment(ctx(t), newID(t), rev, "big file.pdf")
		wantKind(t, err, porting.KindNotFound)
	})
	if got := h.getRequest(t, r.ID); got.Rev != rev || len(got.Attachments) != 3 {
		t.Fatalf("failed calls changed the document: rev %s (want %s), %d attachments", got.Rev, rev, len(got.Attachments))
	}

	newRev, err := h.s.DeleteAttachment(ctx(t), r.ID, rev, "plain.txt")
	if err != nil {
		t.Fatalf("DeleteAttachment: %v", err)
	}
	wantRev(t, "DeleteAttachment", newRev, revGen(rev)+1)
	after := h.getRequest(t, r.ID)
	if after.Rev != newRev {
		t.Errorf("DeleteAttachment rev %q, document %q", newRev, after.Rev)
	}
	if _, ok := after.Attachments["plain.txt"]; ok {
		t.Error("deleted attachment still listed")
	}
	_, err = h.s.GetAttachment(ctx(t), r.ID, "plain.txt")
	wantKind(t, err, porting.KindNotFound)
	if got := h.readAttachment(t, r.ID, "big file.pdf"); len(got) != size {
		t.Errorf("other attachment after delete: %d bytes", len(got))
	}
	for _, name := range []string{"big file.pdf", "empty.txt"} {
		newRev, err = h.s.DeleteAttachment(ctx(t), r.ID, newRev, name)
		if err != nil {
			t.Fatalf("DeleteAttachment %s: %v", name, err)
		}
	}
	if got := h.getRequest(t, r.ID); len(got.Attachments) != 0 {
		t.Errorf("attachments left: %v", got.Attachments)
	}
	if h.raw != nil {
		if _, ok := h.rawDoc(t, "port_requests", r.ID)["_attachments"]; ok {
			t.Error("stored document keeps an _attachments member with no attachment left")
		}
	}
}

// The metadata is CouchDB's: content type, length, an md5 digest, the
// generation that wrote the body, and a stub mark when read.
func testAttachmentMetadata(t *testing.T, h *harness) {
	r := h.newRequest(t, reqSpec{account: newID(t), modified: 63900000000})
	body := bytes.Repeat([]byte("%PDF-1.4 metadata "), 5000)
	rev := h.putAttachment(t, r.ID, r.Rev, "loa.pdf", "application/pdf", bytes.NewReader(body))
	rev = h.putAttachment(t, r.ID, rev, "bill.txt", "text/plain", strings.NewReader("bill"))
	sum := md5.Sum(body)
	want := porting.Attachment{ContentType: "application/pdf", Length: int64(len(body)),
		Digest: "md5-" + base64.StdEncoding.EncodeToString(sum[:]), Revpos: 2, Stub: true}
	got := h.getRequest(t, r.ID)
	if diff := cmp.Diff(want, got.Attachments["loa.pdf"]); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	if got.Attachments["bill.txt"].Revpos != 3 {
		t.Errorf("second attachment revpos %d, want 3", got.Attachments["bill.txt"].Revpos)
	}
	if diff := cmp.Diff(map[string]map[string]any{
		"loa.pdf":  {"content_type": "application/pdf", "length": int64(len(body))},
		"bill.txt": {"content_type": "text/plain", "length": int64(4)},
	}, got.Uploads()); diff != "" {
		t.Errorf("Uploads (-want +got):\n%s", diff)
	}
	if h.raw == nil {
		return
	}
	raw := h.rawDoc(t, "port_requests", r.ID)
	atts, _ := raw["_attachments"].(map[string]any)
	loa, _ := atts["loa.pdf"].(map[string]any)
	for k, v := range map[string]any{"content_type": "application/pdf", "length": float64(len(body)), "digest": want.Digest} {
		if loa[k] != v {
			t.Errorf("stored _attachments[loa.pdf].%s = %v, want %v", k, loa[k], v)
		}
	}
	if got.Rev != rev {
		t.Errorf("document rev %s, PutAttachment said %s", got.Rev, rev)
	}
}

// An edit goes out with attachment stubs; the stored bodies must survive it.
func testUpdateRequestKeepsAttachments(t *testing.T, h *harness) {
	r := h.newRequest(t, reqSpec{account: newID(t), modified: 63900000000})
	body := bytes.Repeat([]byte("%PDF-1.4 keep me "), 1000)
	rev := h.putAttachment(t, r.ID, r.Rev, "loa.pdf", "application/pdf", bytes.NewReader(body))
	meta := h.getRequest(t, r.ID).Attachments["loa.pdf"]

	for i := range 2 { // twice: the stubs' revpos must not matter
		got := h.getRequest(t, r.ID)
		if got.Rev != rev {
			t.Fatalf("GetRequest Rev %q, PutAttachment said %q", got.Rev, rev)
		}
		got.Public.Set("name", "edited")
		got.Modified += int64(i + 1)
		h.update(t, got)
		rev = got.Rev
	}

	final := h.getRequest(t, r.ID)
	if diff := cmp.Diff(meta, final.Attachments["loa.pdf"]); diff != "" {
		t.Errorf("attachment metadata after updates (-want +got):\n%s", diff)
	}
	if got := h.readAttachment(t, r.ID, "loa.pdf"); !bytes.Equal(got, body) {
		t.Errorf("attachment body after update: %d bytes, want %d identical", len(got), len(body))
	}
}

// As in CouchDB, the stubs of an update decide which attachments remain:
// one left out is removed, and a stub naming no stored attachment is a
// conflict (CouchDB's 412 missing_stub).
func testAttachmentStubsDecide(t *testing.T, h *harness) {
	r := h.newRequest(t, reqSpec{account: newID(t), modified: 63900000000})
	rev := h.putAttachment(t, r.ID, r.Rev, "a.txt", "text/plain", strings.NewReader("a"))
	h.putAttachment(t, r.ID, rev, "b.txt", "text/plain", strings.NewReader("b"))
	got := h.getRequest(t, r.ID)

	bogus := *got
	bogus.Attachments = map[string]porting.Attachment{"a.txt": got.Attachments["a.txt"],
		"ghost.txt": {ContentType: "text/plain", Length: 1, Stub: true}}
	wantKind(t, h.s.UpdateRequest(ctx(t), &bogus), porting.KindConflict)

	delete(got.Attachments, "b.txt")
	h.update(t, got)
	after := h.getRequest(t, r.ID)
	if _, ok := after.Attachments["b.txt"]; ok || len(after.Attachments) != 1 {
		t.Errorf("attachments after an update without b.txt: %v", after.Attachments)
	}
	_, err := h.s.GetAttachment(ctx(t), r.ID, "b.txt")
	wantKind(t, err, porting.KindNotFound)
	if got := h.readAttachment(t, r.ID, "a.txt"); string(got) != "a" {
		t.Errorf("a.txt = %q", got)
	}
}

// An upload is stored as it is read: the live heap never grows by anything
// near the body's size.
func testPutAttachmentStreams(t *testing.T, h *harness) {
	r := h.newRequest(t, reqSpec{account: newID(t), modified: 63900000000})
	const size = 16 << 20
	body := &heapWatcher{r: &PatternReader{N: size}, every: 1 << 20}
	body.base = liveHeap()
	rev := h.putAttachment(t, r.ID, r.Rev, "big.bin", "application/octet-stream", body)
	grew := int64(body.peak) - int64(body.base)
	t.Logf("%d byte upload: live heap grew by at most %d bytes", size, grew)
	if grew > size/4 {
		t.Errorf("a %d byte upload grew the live heap by %d bytes: the body was buffered", size, grew)
	}
	if got := h.getRequest(t, r.ID); got.Rev != rev || got.Attachments["big.bin"].Length != size {
		t.Errorf("after upload: rev %s (want %s), attachment %+v", got.Rev, rev, got.Attachments["big.bin"])
	}
}

// heapWatcher measures the live heap every so many bytes read.
type heapWatcher struct {
	r           io.Reader
	every, next int
	read        int
	base, peak  uint64
}

func (w *heapWatcher) Read(b []byte) (int, error) {
	n, err := w.r.Read(b)
	w.read += n
	if w.read >= w.next {
		w.next += w.every
		w.peak = max(w.peak, liveHeap())
	}
	return n, err
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// revGen is the generation of a revision ("3-…" → 3).
func revGen(rev string) int {
	g, _, _ := strings.Cut(rev, "-")
	n, _ := strconv.Atoi(g)
	return n
}
