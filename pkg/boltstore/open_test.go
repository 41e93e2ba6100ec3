package boltstore_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/boltstore"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/porting/storetest"
)

// Child processes: the test binary re-executed with helperEnv set plays a
// second portreqd process.
const helperEnv = "BOLTSTORE_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helper(mode, os.Getenv("BOLTSTORE_TEST_DIR"), os.Getenv("BOLTSTORE_TEST_ID")))
	}
	code := m.Run()
	closeFixtures()
	os.Exit(code)
}

// helper runs one child role and returns its exit code.
func helper(mode, dir, id string) int {
	s, err := boltstore.Open(dir, boltstore.Options{})
	if err != nil {
		fmt.Println("open failed:", err)
		return 3
	}
	switch mode {
	case "write": // acknowledge a write, then wait to be killed
		ctx := context.Background()
		r := &porting.Request{ID: id, Public: porting.Fields{}, Private: porting.Fields{}, State: porting.Submitted,
			AccountID: "acct", Tree: []string{"acct"}, Created: 1, Modified: 2}
		if err := s.CreateRequest(ctx, r); err != nil {
			fmt.Println("create failed:", err)
			return 1
		}
		rev, err := s.PutAttachment(ctx, id, r.Rev, "loa.pdf", "application/pdf", &storetest.PatternReader{N: 3 << 20})
		if err != nil {
			fmt.Println("attach failed:", err)
			return 1
		}
		fmt.Println("ok", rev)
		time.Sleep(time.Minute)
	case "open":
		fmt.Println("opened")
	}
	return 0
}

// child starts the test binary in a helper role on dir.
func child(t *testing.T, mode, dir, id string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "BOLTSTORE_TEST_DIR="+dir, "BOLTSTORE_TEST_ID="+id)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, bufio.NewScanner(out)
}

const inUse = "is in use by another portreqd process"

// A second process on the same data directory fails at start, quickly
// and saying why, instead of hanging or sharing the file.
func TestSecondProcessRefused(t *testing.T) {
	dir := t.TempDir()
	open(t, dir)
	start := time.Now()
	cmd, out := child(t, "open", dir, "")
	out.Scan()
	line := out.Text()
	err := cmd.Wait()
	if !strings.Contains(line, "data directory "+dir+" "+inUse) {
		t.Errorf("second process said %q, want the data directory named in use", line)
	}
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 3 {
		t.Errorf("second process exit: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("second process took %s to give up", d)
	}
}

// bbolt's flock belongs to the open file, so a second Open in one process
// is refused as well, and succeeds once the first store is closed.
func TestSecondOpenRefused(t *testing.T) {
	dir := t.TempDir()
	s, err := boltstore.Open(dir, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = boltstore.Open(dir, boltstore.Options{LockTimeout: 100 * time.Millisecond})
	if !porting.IsKind(err, porting.KindUnavailable) || !strings.Contains(err.Error(), inUse) {
		t.Errorf("second Open = %v, want KindUnavailable naming the directory in use", err)
	}
	_ = s.Close()
	open(t, dir)
}

// A write the store acknowledged survives kill -9 of the process right
// after: bbolt fsyncs every commit before it returns.
func TestAcknowledgedWriteSurvivesKill(t *testing.T) {
	dir, id := t.TempDir(), newID(t)
	cmd, out := child(t, "write", dir, id)
	if !out.Scan() {
		t.Fatalf("child wrote nothing: %v", out.Err())
	}
	rev, ok := strings.CutPrefix(out.Text(), "ok ")
	if !ok {
		t.Fatalf("child: %s", out.Text())
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait()

	s := open(t, dir)
	r, err := s.GetRequest(ctx(t), id)
	if err != nil || r.Rev != rev {
		t.Fatalf("after kill -9: %v, %v; want rev %s", r, err, rev)
	}
	a, err := s.GetAttachment(ctx(t), id, "loa.pdf")
	if err != nil || a.Length != 3<<20 {
		t.Fatalf("attachment after kill -9: %v, %v", a, err)
	}
	_ = a.Body.Close()
}

// A file written by a newer, incompatible portreqd is refused with a
// message naming both formats.
func TestNewerFormatRefused(t *testing.T) {
	dir := t.TempDir()
	s, err := boltstore.Open(dir, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	newer := boltstore.FormatVersion + 1
	if err := boltstore.SetMeta(dir, "format", fmt.Sprint(newer)); err != nil {
		t.Fatal(err)
	}
	_, err = boltstore.Open(dir, boltstore.Options{})
	want := fmt.Sprintf("data directory %s was written by portreqd format %d; this binary reads up to %d",
		dir, newer, boltstore.FormatVersion)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Open = %v, want %q", err, want)
	}
}

// An upload cut short by a crash leaves a staged blob; the next Open
// deletes it.
func TestUnfinishedUploadDropped(t *testing.T) {
	dir := t.TempDir()
	s, err := boltstore.Open(dir, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	blob, err := s.Stage(&storetest.PatternReader{N: 300_000})
	if err != nil {
		t.Fatal(err)
	}
	if n := s.BlobChunks(blob); n != 5 {
		t.Fatalf("staged %d chunks, want 5", n)
	}
	_ = s.Close()
	s = open(t, dir)
	if n := s.BlobChunks(blob); n != 0 {
		t.Errorf("%d chunks of an unfinished upload left after Open", n)
	}
}

// The data directory is created when missing.
func TestOpenCreatesDirectory(t *testing.T) {
	dir := t.TempDir() + "/a/b"
	open(t, dir)
	if _, err := os.Stat(dir + "/" + boltstore.FileName); err != nil {
		t.Errorf("database file: %v", err)
	}
}
