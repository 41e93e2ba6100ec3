package boltstore_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/portreqd/portreqd/pkg/porting/storetest"
)

// A download holds no transaction between reads: writes go on while it
// is half read, and it still yields the body it opened.
func TestDownloadDoesNotBlockWriters(t *testing.T) {
	s := open(t, t.TempDir())
	r := request(t, newID(t), nil, 1000)
	if err := s.CreateRequest(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	const size = 1 << 20
	rev, err := s.PutAttachment(ctx(t), r.ID, r.Rev, "a.bin", "application/octet-stream", &storetest.PatternReader{N: size})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.GetAttachment(ctx(t), r.ID, "a.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Body.Close()
	half := make([]byte, size/2)
	if _, err := io.ReadFull(a.Body, half); err != nil {
		t.Fatal(err)
	}
	// Writes, another upload included, commit meanwhile.
	for range 20 {
		if err := s.CreateRequest(ctx(t), request(t, newID(t), nil, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PutAttachment(ctx(t), r.ID, rev, "b.bin", "application/octet-stream", &storetest.PatternReader{N: size}); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(a.Body)
	if err != nil || len(rest) != size/2 {
		t.Fatalf("rest of the download: %d bytes, %v", len(rest), err)
	}
	want := &storetest.PatternReader{N: size}
	full := make([]byte, size)
	_, _ = io.ReadFull(want, full)
	if string(half)+string(rest) != string(full) {
		t.Error("downloaded body differs")
	}
}

// The documented price of short read transactions: replacing an
// attachment during its download fails the download rather than mixing
// two bodies.
func TestDownloadOfReplacedAttachmentFails(t *testing.T) {
	s := open(t, t.TempDir())
	r := request(t, newID(t), nil, 1000)
	if err := s.CreateRequest(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	rev, err := s.PutAttachment(ctx(t), r.ID, r.Rev, "a.bin", "application/octet-stream", &storetest.PatternReader{N: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.GetAttachment(ctx(t), r.ID, "a.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Body.Close()
	if _, err := io.ReadFull(a.Body, make([]byte, 100_000)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutAttachment(ctx(t), r.ID, rev, "a.bin", "text/plain", strings.NewReader("new")); err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(a.Body)
	if err == nil || errors.Is(err, io.EOF) {
		t.Errorf("reading a replaced attachment: err %v, want a failure", err)
	}
}
