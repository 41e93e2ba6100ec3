package bolt_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/bolt"
)

// Child processes: the test binary re-executed with childRoleEnv set plays
// a second portreqd process on the file named by childPathEnv.
const (
	childRoleEnv = "BOLT_ENGINE_TEST_CHILD"
	childPathEnv = "BOLT_ENGINE_TEST_PATH"
)

func TestMain(m *testing.M) {
	if role := os.Getenv(childRoleEnv); role != "" {
		os.Exit(childMain(role, os.Getenv(childPathEnv)))
	}
	os.Exit(m.Run())
}

// childAttSize is the size of the attachment the writing child uploads.
const childAttSize = 3 << 20

// childMain runs one child role and returns its exit code: 3 when the
// engine does not open.
func childMain(role, path string) int {
	e, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		fmt.Println("open failed:", err)
		return 3
	}
	switch role {
	case "open":
		fmt.Println("opened")
	case "write": // acknowledge writes, say so, then wait to be killed
		revs, err := childWrites(e)
		if err != nil {
			fmt.Println("write failed:", err)
			return 1
		}
		out, _ := json.Marshal(revs)
		fmt.Printf("ok %s\n", out)
		_, _ = io.Copy(io.Discard, os.Stdin) // until the parent is gone
	}
	return 0
}

// childWrites makes, with fsync on, a document with an attachment, then
// documents written concurrently (sharing commits) and a bulk write, and
// returns every acknowledged revision by id.
func childWrites(e *bolt.Engine) (map[string]string, error) {
	c := context.Background()
	if err := e.CreateDB(c, "db"); err != nil {
		return nil, err
	}
	revs := map[string]string{}
	rev, err := e.Put(c, "db", "doc", []byte(`{"v":1}`))
	if err != nil {
		return nil, err
	}
	if revs["doc"], err = e.PutAttachment(c, "db", "doc", rev, "loa.pdf", "application/pdf", io.LimitReader(newStream(3), childAttSize)); err != nil {
		return nil, err
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("c%02d", i)
			rev, err := e.Put(c, "db", id, []byte(fmt.Sprintf(`{"v":%d}`, i)))
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			revs[id] = rev
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	var docs [][]byte
	for i := range 8 {
		docs = append(docs, []byte(fmt.Sprintf(`{"_id":"b%d","v":%d}`, i, i)))
	}
	res, err := e.Bulk(c, "db", docs)
	if err != nil {
		return nil, err
	}
	for _, r := range res {
		if r.Err != nil {
			return nil, r.Err
		}
		revs[r.ID] = r.Rev
	}
	return revs, nil
}

// startChild starts the test binary in role on path; its stdin stays open
// until the test ends.
func startChild(t *testing.T, role, path string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childRoleEnv+"="+role, childPathEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd, bufio.NewScanner(out)
}

// A second process on the same file fails at start, quickly and saying
// why, instead of hanging or sharing the file.
func TestSecondProcessRefused(t *testing.T) {
	path := t.TempDir() + "/engine.db"
	open(t, path, bolt.Options{NoSync: true})
	start := time.Now()
	cmd, out := startChild(t, "open", path)
	out.Scan()
	line := out.Text()
	err := cmd.Wait()
	if !strings.Contains(line, path+lockedMsg) {
		t.Errorf("second process said %q, want %s named in use", line, path)
	}
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 3 {
		t.Errorf("second process exit: %v, want code 3 (open failed)", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("second process took %s to give up", d)
	}
}

// Every write the engine acknowledged survives kill -9 of the process
// right after: a commit is fsynced before the write returns, those of
// concurrent writers sharing a commit too.
func TestAcknowledgedWriteSurvivesKill(t *testing.T) {
	path := t.TempDir() + "/engine.db"
	cmd, out := startChild(t, "write", path)
	if !out.Scan() {
		t.Fatalf("child wrote nothing: %v", out.Err())
	}
	line, ok := strings.CutPrefix(out.Text(), "ok ")
	if !ok {
		t.Fatalf("child: %s", out.Text())
	}
	var revs map[string]string
	if err := json.Unmarshal([]byte(line), &revs); err != nil {
		t.Fatalf("child: %s: %v", line, err)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait()

	e := open(t, path, bolt.Options{})
	got := map[string]string{}
	err := e.AllDocs(ctx(t), "db", engine.Query{}, func(r engine.Row) error {
		var v struct {
			Rev string `json:"rev"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			return err
		}
		got[r.ID] = v.Rev
		return nil
	})
	if err != nil {
		t.Fatalf("after kill -9: %v", err)
	}
	if len(revs) != 1+16+8 {
		t.Fatalf("child acknowledged %d writes, want %d", len(revs), 1+16+8)
	}
	if diff := cmp.Diff(revs, got); diff != "" {
		t.Errorf("documents after kill -9 (-acknowledged +stored):\n%s", diff)
	}
	a, err := e.GetAttachment(ctx(t), "db", "doc", "loa.pdf")
	if err != nil {
		t.Fatalf("attachment after kill -9: %v", err)
	}
	defer a.Body.Close()
	h := md5.New()
	n, err := io.Copy(h, a.Body)
	want := md5.New()
	_, _ = io.Copy(want, io.LimitReader(newStream(3), childAttSize))
	if err != nil || n != childAttSize || a.Length != childAttSize || !bytes.Equal(h.Sum(nil), want.Sum(nil)) {
		t.Errorf("attachment after kill -9: %d bytes (length %d), %v; want the %d bytes uploaded", n, a.Length, err, childAttSize)
	}
}

// Concurrent writers share commits; a conflict of one of them neither
// fails nor undoes the others (in the same commit or not), and exactly
// one of the updates racing at one revision wins.
func TestGroupCommit(t *testing.T) {
	e := fresh(t, bolt.Options{}) // fsync: writers queue, and share commits
	c := ctx(t)
	put(t, e, "_design/t", `{"views":{"by_acct":{"map":"function(doc){ if (doc.acct) emit(doc.acct, doc.v); }"}}}`)
	base := put(t, e, "target", `{"acct":"a","v":-1}`)
	const writers, bulks = 64, 16
	updRevs := make([]string, writers)
	updErrs := make([]error, writers)
	createErrs := make([]error, writers)
	bulkRes := make([][]engine.Result, bulks)
	bulkErrs := make([]error, bulks)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(2)
		go func() { // all race to update target at the same revision
			defer wg.Done()
			<-start
			updRevs[i], updErrs[i] = e.Put(c, "db", "target", []byte(fmt.Sprintf(`{"_rev":%q,"acct":"a","v":%d}`, base, i)))
		}()
		go func() { // never conflict
			defer wg.Done()
			<-start
			_, createErrs[i] = e.Put(c, "db", fmt.Sprintf("n%02d", i), []byte(`{"acct":"a","v":0}`))
		}()
	}
	for i := range bulks {
		wg.Add(1)
		go func() { // one new document, one create over the live target
			defer wg.Done()
			<-start
			bulkRes[i], bulkErrs[i] = e.Bulk(c, "db", [][]byte{
				[]byte(fmt.Sprintf(`{"_id":"b%02d","acct":"a","v":0}`, i)),
				[]byte(`{"_id":"target","acct":"a","v":1000}`),
			})
		}()
	}
	close(start)
	wg.Wait()

	winner := -1
	for i := range writers {
		switch err := updErrs[i]; {
		case err == nil && winner >= 0:
			t.Errorf("updates %d and %d at one revision both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, engine.ErrConflict):
			t.Errorf("update %d: %v, want success or a conflict", i, err)
		}
		if createErrs[i] != nil {
			t.Errorf("create %d: %v", i, createErrs[i])
		}
	}
	for i := range bulks {
		if bulkErrs[i] != nil || len(bulkRes[i]) != 2 {
			t.Errorf("bulk %d: %+v, %v", i, bulkRes[i], bulkErrs[i])
			continue
		}
		if r := bulkRes[i][0]; r.Err != nil || r.Rev == "" {
			t.Errorf("bulk %d, new document: %+v", i, r)
		}
		if r := bulkRes[i][1]; !errors.Is(r.Err, engine.ErrConflict) {
			t.Errorf("bulk %d, create over a live document: %+v, want a conflict", i, r)
		}
	}
	if winner < 0 {
		t.Fatal("no update at the current revision succeeded")
	}
	if m := get(t, e, "target"); m["_rev"] != updRevs[winner] || m["v"] != float64(winner) {
		t.Errorf("target: %v, want update %d at %s", m, winner, updRevs[winner])
	}
	leaves, err := e.Leaves(c, "db", "target")
	if err != nil || len(leaves) != 1 || !cmp.Equal(leaves[0].Ancestors, []string{updRevs[winner], base}) {
		t.Errorf("target's leaves: %+v, %v; want one, %s over %s", leaves, err, updRevs[winner], base)
	}
	if n := len(rows(t, e, "t", "by_acct", engine.Query{Key: []byte(`"a"`)})); n != 1+writers+bulks {
		t.Errorf("view: %d rows, want %d", n, 1+writers+bulks)
	}
}

// A download holds no transaction between reads: writes (an upload that
// grows the file among them, which in bbolt waits for every open read
// transaction) commit while it is half read, and it still yields the body
// it opened.
func TestDownloadDoesNotBlockWriters(t *testing.T) {
	e := fresh(t, bolt.Options{})
	c := ctx(t)
	rev := put(t, e, "d", `{}`)
	const size = 1 << 20
	full, _ := io.ReadAll(io.LimitReader(newStream(5), size))
	rev, err := e.PutAttachment(c, "db", "d", rev, "a.bin", "application/octet-stream", bytes.NewReader(full))
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.GetAttachment(c, "db", "d", "a.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Body.Close()
	half := make([]byte, size/2)
	if _, err := io.ReadFull(a.Body, half); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for i := range 20 {
			if _, err := e.Put(c, "db", fmt.Sprintf("w%02d", i), []byte(`{"v":1}`)); err != nil {
				done <- err
				return
			}
		}
		_, err := e.PutAttachment(c, "db", "d", rev, "b.bin", "application/octet-stream", io.LimitReader(newStream(6), 16<<20))
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("writes during a download: %v", err)
		}
	case <-time.After(2 * time.Minute):
		_ = a.Body.Close() // lets the writes go, if a read transaction held them
		t.Fatal("writes blocked behind a half-read download for 2 minutes")
	}
	rest, err := io.ReadAll(a.Body)
	if err != nil || len(rest) != size/2 {
		t.Fatalf("rest of the download: %d bytes, %v", len(rest), err)
	}
	if !bytes.Equal(append(half, rest...), full) {
		t.Error("downloaded body differs from the one uploaded")
	}
}

// An attachment replaced while it is downloaded: the download yields the
// body it opened, whole (never a mix of two bodies, never a newer one);
// the collector deletes the replaced bodies nobody reads and keeps the one
// being read, until its reader closes.
func TestDownloadOfReplacedAttachment(t *testing.T) {
	e := fresh(t, bolt.Options{NoSync: true})
	c := ctx(t)
	rev := put(t, e, "d", `{}`)
	const size = 1 << 20
	first, _ := io.ReadAll(io.LimitReader(newStream(7), size))
	rev, err := e.PutAttachment(c, "db", "d", rev, "a.bin", "application/octet-stream", bytes.NewReader(first))
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.GetAttachment(c, "db", "d", "a.bin")
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 100_000)
	if _, err := io.ReadFull(a.Body, head); err != nil {
		t.Fatal(err)
	}
	// Replaced twice: the body read is held, the one between is not.
	if rev, err = e.PutAttachment(c, "db", "d", rev, "a.bin", "application/octet-stream", io.LimitReader(newStream(8), size)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.PutAttachment(c, "db", "d", rev, "a.bin", "text/plain", strings.NewReader("new")); err != nil {
		t.Fatal(err)
	}
	if err := e.Collect(); err != nil {
		t.Fatal(err)
	}
	if _, garbage, err := e.Blobs(); err != nil || garbage != 1 {
		t.Errorf("while the first body is read: %d bodies in the garbage, %v; want that one only", garbage, err)
	}
	rest, err := io.ReadAll(a.Body)
	if err != nil || !bytes.Equal(append(head, rest...), first) {
		t.Errorf("download of a replaced attachment: %d bytes, %v; want the %d bytes it opened", len(head)+len(rest), err, size)
	}
	if err := a.Body.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Collect(); err != nil {
		t.Fatal(err)
	}
	if chunks, garbage, err := e.Blobs(); err != nil || garbage != 0 || chunks != 1 {
		t.Errorf("after the reader closed: %d chunks, %d bodies in the garbage, %v; want the new body's 1 chunk only", chunks, garbage, err)
	}
	now, err := e.GetAttachment(c, "db", "d", "a.bin")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(now.Body)
	_ = now.Body.Close()
	if err != nil || string(body) != "new" || now.Digest != "md5-"+base64.StdEncoding.EncodeToString(md5sum("new")) {
		t.Errorf("the new body: %q (%s), %v", body, now.Digest, err)
	}
}

func md5sum(s string) []byte {
	h := md5.Sum([]byte(s))
	return h[:]
}
