package bolt_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/bolt"
)

// lockedMsg is how Open says that another process (or another Open) holds the
// file.
const lockedMsg = " is in use by another process"

// bbolt's flock belongs to the open file, so a second Open in one process
// is refused too, quickly, as unavailable and naming the file; once the
// first engine is closed the file opens again.
func TestSecondOpenRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "engine.db")
	first, err := bolt.Open(path, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	second, err := bolt.Open(path, bolt.Options{NoSync: true, LockTimeout: 100 * time.Millisecond})
	if err == nil {
		_ = second.Close()
		t.Fatal("a second Open of an open file succeeded")
	}
	if !errors.Is(err, engine.ErrUnavailable) || !strings.Contains(err.Error(), path+lockedMsg) {
		t.Errorf("second Open = %v, want unavailable naming %s in use", err, path)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("second Open took %s to give up (lock timeout 100ms)", d)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	open(t, path, bolt.Options{NoSync: true})
}

// A file written by a newer, incompatible binary is refused with a message
// naming the file and both formats, and is left as it was.
func TestNewerFormatRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "engine.db")
	e, err := bolt.Open(path, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	newer := fmt.Sprint(bolt.FormatVersion + 1)
	for _, format := range []string{newer, "x"} {
		t.Run(format, func(t *testing.T) {
			if err := bolt.SetMeta(path, "format", format); err != nil {
				t.Fatal(err)
			}
			e, err := bolt.Open(path, bolt.Options{NoSync: true})
			if err == nil {
				_ = e.Close()
				t.Fatalf("Open of a file of format %s succeeded", format)
			}
			want := fmt.Sprintf("file format %s is newer than this binary's %d", format, bolt.FormatVersion)
			if format == "x" {
				want = `unreadable format version "x"`
			}
			if !errors.Is(err, engine.ErrUnavailable) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
				t.Errorf("Open = %v, want unavailable naming %s and %q", err, path, want)
			}
			if got, err := bolt.Meta(path, "format"); err != nil || got != format {
				t.Errorf("format after the refused Open: %q, %v; want %q untouched", got, err, format)
			}
		})
	}
}

// The directories of the file are created when missing, by Open and by
// OpenDir (a data directory and its engine file).
func TestOpenCreatesDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "engine.db")
	open(t, path, bolt.Options{NoSync: true})
	if _, err := os.Stat(path); err != nil {
		t.Errorf("engine file: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "c", "d")
	e, err := bolt.OpenDir(dir, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatalf("OpenDir: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	if _, err := os.Stat(filepath.Join(dir, bolt.FileName)); err != nil {
		t.Errorf("engine file of the data directory: %v", err)
	}
}

// Ping answers nil while the file is open; after Close, Ping and every
// other call answer unavailable (never a panic, never a hang), and a
// second Close is harmless.
func TestPingAndClose(t *testing.T) {
	e, err := bolt.Open(filepath.Join(t.TempDir(), "engine.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	c := ctx(t)
	if err := e.Ping(c); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if err := e.CreateDB(c, "db"); err != nil {
		t.Fatal(err)
	}
	rev, err := e.Put(c, "db", "d", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.PutAttachment(c, "db", "d", rev, "a", "text/plain", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Put(c, "db", "_design/t", []byte(typedDesign)); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	none := func(engine.Row) error { return nil }
	for what, err := range map[string]error{
		"Ping":   e.Ping(c),
		"Get":    errOnly(e.Get(c, "db", "d", engine.GetOptions{})),
		"Put":    errOnly(e.Put(c, "db", "e", []byte(`{}`))),
		"Delete": errOnly(e.Delete(c, "db", "d", rev)),
		"Bulk":   errOnly(e.Bulk(c, "db", [][]byte{[]byte(`{"_id":"f"}`)})),
		"GetAttachment": func() error {
			a, err := e.GetAttachment(c, "db", "d", "a")
			if err == nil {
				_, err = io.ReadAll(a.Body)
				_ = a.Body.Close()
			}
			return err
		}(),
		"PutAttachment": errOnly(e.PutAttachment(c, "db", "d", rev, "b", "text/plain", strings.NewReader("y"))),
		"AllDocs":       e.AllDocs(c, "db", engine.Query{}, none),
		"Query":         e.Query(c, "db", "t", "by_type", engine.Query{}, none),
		"Changes":       e.Changes(c, "db", engine.ChangesQuery{}, func(engine.Change) error { return nil }),
		"AllDBs":        errOnly(e.AllDBs(c)),
		"CreateDB":      e.CreateDB(c, "other"),
	} {
		if !errors.Is(err, engine.ErrUnavailable) {
			t.Errorf("%s after Close = %v, want %v", what, err, engine.ErrUnavailable)
		}
	}
}

func errOnly[T any](_ T, err error) error { return err }

// View indexes are derived data: a file whose indexes were built by an
// older index version has them dropped at Open, and they are rebuilt from
// the documents on first use.
func TestIndexesOfOlderVersionRebuilt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "engine.db")
	e, err := bolt.Open(path, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	c := ctx(t)
	if err := e.CreateDB(c, "db"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Put(c, "db", "_design/t", []byte(typedDesign)); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := e.Put(c, "db", fmt.Sprintf("d%d", i), []byte(fmt.Sprintf(`{"type":"x","n":%d}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	before := rows(t, e, "t", "by_type", engine.Query{})
	if n, err := e.IndexedDesigns("db"); err != nil || n != 1 {
		t.Fatalf("indexes after a query: %d, %v; want 1", n, err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := bolt.SetMeta(path, "index", fmt.Sprint(bolt.IndexVersion-1)); err != nil {
		t.Fatal(err)
	}

	e = open(t, path, bolt.Options{NoSync: true})
	if n, err := e.IndexedDesigns("db"); err != nil || n != 0 {
		t.Errorf("indexes of an older version after Open: %d, %v; want none", n, err)
	}
	after := rows(t, e, "t", "by_type", engine.Query{})
	if len(after) != 5 {
		t.Errorf("rebuilt view: %d rows, want 5", len(after))
	}
	if diff := cmp.Diff(fmt.Sprint(before), fmt.Sprint(after)); diff != "" {
		t.Errorf("rebuilt view (-before +after):\n%s", diff)
	}
	if n, err := e.IndexedDesigns("db"); err != nil || n != 1 {
		t.Errorf("indexes after the rebuild: %d, %v; want 1", n, err)
	}
}
