package couch_test

import (
	"encoding/json"
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/porting/storetest"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

// stubNames lists the attachment stubs of document id as stored, sorted.
func stubNames(t *testing.T, e engine.Engine, db, id string) ([]string, string) {
	t.Helper()
	raw, err := e.Get(testCtx(t), db, id, engine.GetOptions{})
	if err != nil {
		t.Fatalf("Get %s: %v", id, err)
	}
	var doc struct {
		Rev         string                     `json:"_rev"`
		Attachments map[string]json.RawMessage `json:"_attachments"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("Get %s: %s: %v", id, raw, err)
	}
	var names []string
	for name := range doc.Attachments {
		names = append(names, name)
	}
	slices.Sort(names)
	return names, doc.Rev
}

// kivik pastes attachment names into the URL as they are; every name a
// client may choose must still reach CouchDB as one path segment, be
// stored under that very name and read back, and an attachment dropped
// from the document (as the Kazoo layer deletes one) must leave the
// others readable.
func TestAttachmentNamesEscaped(t *testing.T) {
	e := openEngine(t, couchdbtest.URL(t))
	db := newDB(t, e)
	c := testCtx(t)
	rev, err := e.Put(c, db, "doc", []byte(`{"v":1}`))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"a/b?c#d%e+f.txt", "big file.pdf", "ünïcode €.txt", "100%25 & more=.pdf", "x+y z;a,b.txt", "%2F.txt"}
	for _, name := range names {
		rev, err = e.PutAttachment(c, db, "doc", rev, name, "text/plain", strings.NewReader("body of "+name))
		if err != nil {
			t.Fatalf("PutAttachment %q: %v", name, err)
		}
		a, err := e.GetAttachment(c, db, "doc", name)
		if err != nil {
			t.Fatalf("GetAttachment %q: %v", name, err)
		}
		got, err := io.ReadAll(a.Body)
		_ = a.Body.Close()
		if err != nil || string(got) != "body of "+name {
			t.Errorf("attachment %q = %q, %v", name, got, err)
		}
	}
	stored, _ := stubNames(t, e, db, "doc")
	want := slices.Sorted(slices.Values(names))
	if diff := cmp.Diff(want, stored); diff != "" {
		t.Fatalf("attachments of the stored document (-want +got):\n%s", diff)
	}

	// Drop the first one as the Kazoo layer does: the document written
	// back without its stub.
	raw, err := e.Get(c, db, "doc", engine.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	delete(doc["_attachments"].(map[string]any), names[0])
	body, _ := json.Marshal(doc)
	if _, err := e.Put(c, db, "doc", body); err != nil {
		t.Fatalf("document without attachment %q: %v", names[0], err)
	}
	if _, err := e.GetAttachment(c, db, "doc", names[0]); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("dropped attachment %q: %v, want not found", names[0], err)
	}
	for _, name := range names[1:] {
		a, err := e.GetAttachment(c, db, "doc", name)
		if err != nil {
			t.Errorf("attachment %q after another was dropped: %v", name, err)
			continue
		}
		_ = a.Body.Close()
	}
}

// kivik hands the body to net/http unread, which sends it chunked: the
// process allocates far less than the upload's size, not only keeps less
// of it live (which the store contract checks).
func TestPutAttachmentAllocatesLittle(t *testing.T) {
	e := openEngine(t, couchdbtest.URL(t))
	db := newDB(t, e)
	c := testCtx(t)
	rev, err := e.Put(c, db, "doc", []byte(`{"v":1}`))
	if err != nil {
		t.Fatal(err)
	}
	const size = 8 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := e.PutAttachment(c, db, "doc", rev, "big.bin", "application/octet-stream", &storetest.PatternReader{N: size}); err != nil {
		t.Fatalf("PutAttachment: %v", err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d byte upload: %d bytes allocated", size, alloc)
	if alloc > size/4 {
		t.Errorf("a %d byte upload allocated %d bytes: the body was buffered", size, alloc)
	}
	a, err := e.GetAttachment(c, db, "doc", "big.bin")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, a.Body)
	_ = a.Body.Close()
	if err != nil || n != size {
		t.Errorf("read back %d bytes, %v; want %d", n, err, size)
	}
}
