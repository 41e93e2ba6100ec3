package couchstore_test

import (
	"bytes"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/portreqd/portreqd/pkg/porting"
)

// patternReader yields n bytes of a pattern without holding them, and is no
// bytes.Reader, so nobody can learn its size or rewind it.
type patternReader struct{ off, n int }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	k := min(len(b), p.n-p.off)
	for i := range k {
		b[i] = patternByte(p.off + i)
	}
	p.off += k
	return k, nil
}

func patternByte(i int) byte { return byte(i*7 + i/251) }

func TestAttachments(t *testing.T) {
	e := newEnv(t)
	r := e.newRequest(t, reqSpec{account: newID(t), modified: 63900000000})

	const size = 3 << 20
	rev, err := e.store.PutAttachment(ctx(t), r.ID, r.Rev, "big file.pdf", "application/pdf", &patternReader{n: size})
	if err != nil {
		t.Fatalf("PutAttachment: %v", err)
	}
	if rev == "" || rev == r.Rev {
		t.Fatalf("PutAttachment rev %q (old %q)", rev, r.Rev)
	}
	if got := e.getRequest(t, r.ID); got.Rev != rev {
		t.Errorf("document _rev %q, PutAttachment said %q", got.Rev, rev)
	}

	a, err := e.store.GetAttachment(ctx(t), r.ID, "big file.pdf")
	if err != nil {
		t.Fatalf("GetAttachment: %v", err)
	}
	if a.ContentType != "application/pdf" || a.Length != size {
		t.Errorf("GetAttachment = %q, %d bytes; want application/pdf, %d", a.ContentType, a.Length, size)
	}
	n := 0
	buf := make([]byte, 64<<10)
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

	// Names clients choose must reach CouchDB as one path segment.
	names := []string{"a/b?c#d%e+f.txt", "plain.txt"}
	for _, name := range names {
		body := "body of " + name
		rev, err = e.store.PutAttachment(ctx(t), r.ID, rev, name, "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatalf("PutAttachment %q: %v", name, err)
		}
		if got := readAttachment(t, e, r.ID, name); string(got) != body {
			t.Errorf("attachment %q = %q", name, got)
		}
	}
	stored := e.getRequest(t, r.ID).Attachments
	for _, name := range append(names, "big file.pdf") {
		if _, ok := stored[name]; !ok {
			t.Errorf("document lacks attachment %q; has %v", name, stored)
		}
	}

	// Replacing keeps one attachment of that name.
	rev, err = e.store.PutAttachment(ctx(t), r.ID, rev, "plain.txt", "text/plain", strings.NewReader("v2"))
	if err != nil {
		t.Fatalf("replace: %v", err)
	}
	if got := readAttachment(t, e, r.ID, "plain.txt"); string(got) != "v2" {
		t.Errorf("replaced attachment = %q", got)
	}

	stale := r.Rev
	t.Run("stale put", func(t *testing.T) {
		_, err := e.store.PutAttachment(ctx(t), r.ID, stale, "x.txt", "text/plain", strings.NewReader("x"))
		wantKind(t, err, porting.KindConflict)
	})
	t.Run("stale delete", func(t *testing.T) {
		_, err := e.store.DeleteAttachment(ctx(t), r.ID, stale, "plain.txt")
		wantKind(t, err, porting.KindConflict)
	})
	t.Run("stale delete, rev never seen", func(t *testing.T) {
		_, err := e.store.DeleteAttachment(ctx(t), r.ID, "9-00000000000000000000000000000000", "plain.txt")
		wantKind(t, err, porting.KindConflict)
	})
	t.Run("unknown name", func(t *testing.T) {
		_, err := e.store.GetAttachment(ctx(t), r.ID, "nope.pdf")
		wantKind(t, err, porting.KindNotFound)
		_, err = e.store.DeleteAttachment(ctx(t), r.ID, rev, "nope.pdf")
		wantKind(t, err, porting.KindNotFound)
	})
	t.Run("unknown document", func(t *testing.T) {
		_, err := e.store.GetAttachment(ctx(t), newID(t), "big file.pdf")
		wantKind(t, err, porting.KindNotFound)
	})

	newRev, err := e.store.DeleteAttachment(ctx(t), r.ID, rev, "plain.txt")
	if err != nil {
		t.Fatalf("DeleteAttachment: %v", err)
	}
	after := e.getRequest(t, r.ID)
	if after.Rev != newRev || newRev == rev {
		t.Errorf("DeleteAttachment rev %q, document %q, before %q", newRev, after.Rev, rev)
	}
	if _, ok := after.Attachments["plain.txt"]; ok {
		t.Error("deleted attachment still listed")
	}
	_, err = e.store.GetAttachment(ctx(t), r.ID, "plain.txt")
	wantKind(t, err, porting.KindNotFound)
	if got := readAttachment(t, e, r.ID, "a/b?c#d%e+f.txt"); !bytes.HasPrefix(got, []byte("body of")) {
		t.Errorf("other attachment after delete = %q", got)
	}
}

// An upload goes to CouchDB as it is read: the process allocates far less
// than the body's size.
func TestPutAttachmentStreams(t *testing.T) {
	e := newEnv(t)
	r := e.newRequest(t, reqSpec{account: newID(t), modified: 63900000000})
	const size = 8 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := e.store.PutAttachment(ctx(t), r.ID, r.Rev, "big.bin", "application/octet-stream", &patternReader{n: size}); err != nil {
		t.Fatalf("PutAttachment: %v", err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d byte upload: %d bytes allocated", size, alloc)
	if alloc > size/4 {
		t.Errorf("a %d byte upload allocated %d bytes: the body was buffered", size, alloc)
	}
}
