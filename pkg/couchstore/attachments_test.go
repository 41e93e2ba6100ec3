package couchstore_test

import (
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/portreqd/portreqd/pkg/porting/storetest"
)

// kivik pastes attachment names into the URL as they are; names clients
// choose must still reach CouchDB as one path segment and read back.
func TestAttachmentNamesEscaped(t *testing.T) {
	e := newEnv(t)
	r := e.newRequest(t)
	rev := r.Rev
	names := []string{"a/b?c#d%e+f.txt", "big file.pdf", "ünïcode €.txt"}
	for _, name := range names {
		var err error
		rev, err = e.store.PutAttachment(ctx(t), r.ID, rev, name, "text/plain", strings.NewReader("body of "+name))
		if err != nil {
			t.Fatalf("PutAttachment %q: %v", name, err)
		}
		a, err := e.store.GetAttachment(ctx(t), r.ID, name)
		if err != nil {
			t.Fatalf("GetAttachment %q: %v", name, err)
		}
		got, _ := io.ReadAll(a.Body)
		_ = a.Body.Close()
		if string(got) != "body of "+name {
			t.Errorf("attachment %q = %q", name, got)
		}
	}
	atts, _ := e.rawDoc(t, "port_requests", r.ID)["_attachments"].(map[string]any)
	for _, name := range names {
		if _, ok := atts[name]; !ok {
			t.Errorf("stored document lacks attachment %q; has %v", name, atts)
		}
	}
	if _, err := e.store.DeleteAttachment(ctx(t), r.ID, rev, names[0]); err != nil {
		t.Errorf("DeleteAttachment %q: %v", names[0], err)
	}
}

// kivik hands the body to net/http unread: the process allocates far less
// than the upload's size, not only keeps less of it live (which the
// contract checks).
func TestPutAttachmentAllocatesLittle(t *testing.T) {
	e := newEnv(t)
	r := e.newRequest(t)
	const size = 8 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := e.store.PutAttachment(ctx(t), r.ID, r.Rev, "big.bin", "application/octet-stream", &storetest.PatternReader{N: size}); err != nil {
		t.Fatalf("PutAttachment: %v", err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d byte upload: %d bytes allocated", size, alloc)
	if alloc > size/4 {
		t.Errorf("a %d byte upload allocated %d bytes: the body was buffered", size, alloc)
	}
}
