package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/collate"
)

// TestRowKeyOrder: (first part, rest) order survives the encoding for
// parts full of 0x00 and 0x01 bytes and prefixes of each other, that is,
// even for a collation key function that is not prefix-free; and the
// parts read back.
func TestRowKeyOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	part := func() []byte {
		b := make([]byte, r.IntN(5))
		for i := range b {
			b[i] = []byte{0, 1, 2, 0xFF}[r.IntN(4)]
		}
		return b
	}
	sign := func(n int) int { return max(-1, min(1, n)) }
	for range 200000 {
		a, b := part(), part()
		if r.IntN(3) == 0 { // make one a prefix of the other
			b = append(bytes.Clone(a), b...)
		}
		x, y := string(part()), string(part())
		want := bytes.Compare(a, b)
		if want == 0 {
			want = strings.Compare(x, y)
		}
		ka, kb := rowKey(a, x), rowKey(b, y)
		if got := bytes.Compare(ka, kb); sign(got) != sign(want) {
			t.Fatalf("(%x,%x) vs (%x,%x): %d, want %d", a, x, b, y, got, want)
		}
		first, rest, ok := splitKey(ka)
		if !ok || !bytes.Equal(unescape(first), a) || string(rest) != x {
			t.Fatalf("split %x: %x %x %v", ka, first, rest, ok)
		}
		// Every row of a lies in [keyLow(a), keyHigh(a)), no row of b != a.
		lo, hi := keyLow(a), keyHigh(a)
		in := bytes.Compare(kb, lo) >= 0 && bytes.Compare(kb, hi) < 0
		if in != bytes.Equal(a, b) {
			t.Fatalf("row (%x,%x) in span of %x: %v", b, y, a, in)
		}
	}
}

// TestCollateKeysPrefixes: the encoding orders real collation keys of keys
// that are prefixes of each other as CouchDB does (key first, then id).
func TestCollateKeysPrefixes(t *testing.T) {
	keys := []string{`"a"`, `"ab"`, `["a"]`, `["a",1]`, `["a",1,null]`, `[]`, `""`, `1`, `10`, `{"a":1}`, `{"a":1,"b":2}`}
	for _, a := range keys {
		for _, b := range keys {
			ca, _ := collate.Key([]byte(a))
			cb, _ := collate.Key([]byte(b))
			want := collate.Compare([]byte(a), []byte(b))
			if want == 0 {
				want = strings.Compare("z", "a")
			}
			if got := bytes.Compare(rowKey(ca, "z"), rowKey(cb, "a")); (got > 0) != (want > 0) {
				t.Errorf("(%s, z) vs (%s, a): %d, want sign of %d", a, b, got, want)
			}
		}
	}
}

// TestStagedBlobDroppedOnOpen: an upload a crash interrupted (a staged
// blob never committed) is deleted by the next Open.
func TestStagedBlobDroppedOnOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "engine.db")
	e, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	up, err := e.stage(context.Background(), strings.NewReader(strings.Repeat("x", 3*chunkSize+5)))
	if err != nil {
		t.Fatal(err)
	}
	count := func(e *Engine) (staged, chunks, garbage int) {
		_ = e.db.View(func(tx *bbolt.Tx) error {
			staged = tx.Bucket(bucketStaging).Stats().KeyN
			garbage = tx.Bucket(bucketGarbage).Stats().KeyN
			c := tx.Bucket(bucketBlob).Cursor()
			for k, _ := c.Seek(u64(up.blob)); k != nil && binary.BigEndian.Uint64(k) == up.blob; k, _ = c.Next() {
				chunks++
			}
			return nil
		})
		return
	}
	if s, c, _ := count(e); s != 1 || c != 4 {
		t.Fatalf("before the crash: %d staged, %d chunks", s, c)
	}
	// The crash: the file is closed with the upload staged.
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e, err = Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if s, c, g := count(e); s != 0 || c != 0 || g != 0 {
		t.Errorf("after Open: %d staged, %d chunks, %d garbage; want none", s, c, g)
	}
}

// TestStaleIndexRebuilt: an index that is missing (as after an index
// version change) is rebuilt on the next query, and on the next write.
func TestStaleIndexRebuilt(t *testing.T) {
	e, err := Open(filepath.Join(t.TempDir(), "engine.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	c := context.Background()
	if err := e.CreateDB(c, "db"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Put(c, "db", "_design/t", []byte(`{"views":{"v":{"map":"function(doc){ emit(doc.n, null); }"}}}`)); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		if _, err := e.Put(c, "db", id, []byte(`{"n":1}`)); err != nil {
			t.Fatal(err)
		}
	}
	drop := func() {
		if err := e.db.Update(dropAllIndexes); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		n := 0
		if err := e.Query(c, "db", "t", "v", engine.Query{}, func(engine.Row) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	drop()
	if n := count(); n != 2 {
		t.Errorf("after the index was dropped, query: %d rows", n)
	}
	drop()
	if _, err := e.Put(c, "db", "c", []byte(`{"n":2}`)); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 3 {
		t.Errorf("after the index was dropped, write and query: %d rows", n)
	}
}

// TestParseDoc: members split right whatever the strings hold, in order,
// a duplicate name keeping its first place and its last value.
func TestParseDoc(t *testing.T) {
	raw := []byte(" { \"a\" : \"x}\\\"y\\\\\" , \"b\":{\"c\":[1, {\"d\":\"]\"}], \"e\" :null} ,\"\\u0066\":-1.5e3,\"a\":[ ],\n" +
		"\"_id\":\"i\\n\",\"_rev\":\"1-x\",\"t\":true,\"f\":false , \"é\":\"\" }\t")
	in, err := parseDoc(raw)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range in.members {
		got = append(got, m.name+"="+string(m.raw))
	}
	want := []string{`a=[]`, `b={"c":[1,{"d":"]"}],"e":null}`, `f=false`, `t=true`, `é=""`}
	if strings.Join(got, " ") != strings.Join(want, " ") || in.id != "i\n" || in.rev != "1-x" || !in.hasID {
		t.Errorf("parsed %q id %q rev %q", got, in.id, in.rev)
	}
	for _, bad := range []string{``, `{`, `{"a":1}}`, `{"a" 1}`, `"s"`, `{"a":1,}`, `{} {}`} {
		if _, err := parseDoc([]byte(bad)); !errors.Is(err, engine.ErrBadRequest) {
			t.Errorf("parseDoc(%q): %v", bad, err)
		}
	}
}

// unescape reverses appendEsc on a first part without its terminator.
func unescape(first []byte) []byte {
	if bytes.IndexByte(first, 0) < 0 {
		return first
	}
	out := make([]byte, 0, len(first))
	for i := 0; i < len(first); i++ {
		out = append(out, first[i])
		if first[i] == 0 {
			i++
		}
	}
	return out
}
