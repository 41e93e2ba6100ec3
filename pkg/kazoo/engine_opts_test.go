package kazoo_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/couch"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

// countingEngine notes the options of every Get.
type countingEngine struct {
	engine.Engine
	mu   sync.Mutex
	gets []engine.GetOptions
}

func (c *countingEngine) Get(ctx context.Context, db, id string, o engine.GetOptions) ([]byte, error) {
	c.mu.Lock()
	c.gets = append(c.gets, o)
	c.mu.Unlock()
	return c.Engine.Get(ctx, db, id, o)
}

func (c *countingEngine) reset() []engine.GetOptions {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.gets
	c.gets = nil
	return g
}

// statusProxy forwards to a CouchDB and notes the status of each GET of a
// document of port_requests.
type statusProxy struct {
	mu       sync.Mutex
	statuses []int
}

func (p *statusProxy) start(t *testing.T, target string) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: u.Scheme, Host: u.Host})
	rp.ModifyResponse = func(r *http.Response) error {
		if r.Request.Method == http.MethodGet && strings.Contains(r.Request.URL.Path, "port_requests/req") {
			p.mu.Lock()
			p.statuses = append(p.statuses, r.StatusCode)
			p.mu.Unlock()
		}
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	pu, _ := url.Parse(srv.URL)
	pu.User = u.User
	return pu.String()
}

func (p *statusProxy) reset() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.statuses
	p.statuses = nil
	return s
}

// engines opens the embedded engine and, with COUCHDB_URL, the CouchDB
// one, each for f.
func engines(t *testing.T, f func(t *testing.T, eng engine.Engine, prefix string, proxy *statusProxy, couchVendor string)) {
	t.Run("bolt", func(t *testing.T) {
		f(t, openBolt(t, filepath.Join(t.TempDir(), "kazoo.db")), "", nil, "")
	})
	t.Run("couch", func(t *testing.T) {
		u := couchdbtest.URL(t)
		prefix := fmt.Sprintf("%skazoo%d_", couchdbtest.Prefix(), seq.Add(1))
		t.Cleanup(func() { dropPrefix(t, u, prefix) })
		proxy := &statusProxy{}
		eng, err := couch.Open(ctx(t), couch.Options{URL: proxy.start(t, u), LeaseDB: prefix + "leases"})
		if err != nil {
			t.Fatalf("couch.Open: %v", err)
		}
		vendor, _, err := eng.Version(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		f(t, eng, prefix, proxy, vendor)
	})
}

// GetRequestDocUnlessRev makes one conditional read: unchanged (and no
// document) at the current revision, the document at any other. On
// CouchDB the match is a 304 without a body.
func TestGetRequestDocUnlessRevOneRead(t *testing.T) {
	engines(t, func(t *testing.T, eng engine.Engine, prefix string, proxy *statusProxy, vendor string) {
		ce := &countingEngine{Engine: eng}
		s := open(t, ce, prefix)
		c := ctx(t)
		rev1, err := eng.Put(c, prefix+"port_requests", "req1", []byte(`{"pvt_type":"port_request","name":"a"}`))
		if err != nil {
			t.Fatal(err)
		}
		rev2, err := eng.Put(c, prefix+"port_requests", "req1", []byte(fmt.Sprintf(`{"_rev":%q,"pvt_type":"port_request","name":"b"}`, rev1)))
		if err != nil {
			t.Fatal(err)
		}
		ce.reset()
		if proxy != nil {
			proxy.reset()
		}
		doc, unchanged, err := s.GetRequestDocUnlessRev(c, "req1", rev2)
		if err != nil || !unchanged || doc != nil {
			t.Errorf("at the current revision: %s, %v, %v; want unchanged, no document", doc, unchanged, err)
		}
		gets := ce.reset()
		if len(gets) != 1 || gets[0].IfNoneMatch != rev2 {
			t.Errorf("engine reads %+v, want one with IfNoneMatch %s", gets, rev2)
		}
		if proxy != nil {
			st := proxy.reset()
			want := http.StatusNotModified
			if strings.Contains(strings.ToLower(vendor), "pouchdb") {
				want = http.StatusOK // pouchdb-server ignores If-None-Match
			}
			if len(st) != 1 || st[0] != want {
				t.Errorf("%s answered %v, want one %d", vendor, st, want)
			}
		}
		doc, unchanged, err = s.GetRequestDocUnlessRev(c, "req1", rev1)
		if err != nil || unchanged || !bytes.Contains(doc, []byte(rev2)) || !bytes.Contains(doc, []byte(`"b"`)) {
			t.Errorf("at an old revision: %s, %v, %v; want the document at %s", doc, unchanged, err, rev2)
		}
		if gets := ce.reset(); len(gets) != 1 {
			t.Errorf("engine reads %+v, want one", gets)
		}
		doc, unchanged, err = s.GetRequestDocUnlessRev(c, "req1", "")
		if err != nil || unchanged || !bytes.Contains(doc, []byte(rev2)) {
			t.Errorf("without a revision: %s, %v, %v; want the document", doc, unchanged, err)
		}
		for _, id := range []string{"missing", "_design/port_requests", ""} {
			_, unchanged, err = s.GetRequestDocUnlessRev(c, id, rev2)
			if !porting.IsKind(err, porting.KindNotFound) || unchanged {
				t.Errorf("%q: %v, %v; want not found", id, unchanged, err)
			}
		}
	})
}

// Raw reads report CouchDB's gzip encoding of a text attachment, so that a
// copy between stores compares equal (porting.DigestsComparable) where
// the digests cannot tell; on the embedded engine the digest is the MD5 of
// the bytes.
func TestRawAttachmentEncoding(t *testing.T) {
	body := bytes.Repeat([]byte("LOA for +12025550123, signed. "), 400)
	sum := md5.Sum(body)
	md5Digest := "md5-" + base64.StdEncoding.EncodeToString(sum[:])
	src := &porting.RawDoc{ID: "doc1", Body: []byte(`{"pvt_type":"note"}`),
		Attachments: map[string]porting.Attachment{"loa.txt": {ContentType: "text/plain", Length: int64(len(body))}}}
	openAtt := func(string) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	var mu sync.Mutex
	copies := map[string]*porting.RawDoc{}
	engines(t, func(t *testing.T, eng engine.Engine, prefix string, _ *statusProxy, vendor string) {
		s := open(t, eng, prefix)
		c := ctx(t)
		if err := s.RawPut(c, "notes", src, openAtt); err != nil {
			t.Fatalf("RawPut: %v", err)
		}
		gzips := vendor != "" && !strings.Contains(strings.ToLower(vendor), "pouchdb")
		check := func(what string, d *porting.RawDoc) {
			t.Helper()
			if d == nil {
				t.Fatalf("%s: no document", what)
			}
			a := d.Attachments["loa.txt"]
			if a.Length != int64(len(body)) || a.ContentType != "text/plain" {
				t.Errorf("%s: %+v, want text/plain of %d bytes", what, a, len(body))
			}
			switch {
			case gzips && a.Encoding != "gzip":
				t.Errorf("%s: %+v, want encoding gzip (CouchDB keeps text/plain compressed)", what, a)
			case a.Encoding == "" && a.Digest != md5Digest:
				t.Errorf("%s: %+v without an encoding, want digest %s", what, a, md5Digest)
			}
		}
		got, err := s.RawGet(c, "notes", "doc1")
		if err != nil {
			t.Fatal(err)
		}
		check("RawGet", got)
		many, err := s.RawGetMany(c, "notes", []string{"doc1", "missing"})
		if err != nil || len(many) != 1 {
			t.Fatalf("RawGetMany: %v, %v", many, err)
		}
		check("RawGetMany", many["doc1"])
		n := 0
		if err := s.RawDocs(c, "notes", func(d *porting.RawDoc) error {
			n++
			check("RawDocs", d)
			return nil
		}); err != nil || n != 1 {
			t.Errorf("RawDocs: %d documents, %v", n, err)
		}
		mu.Lock()
		copies[t.Name()] = got
		mu.Unlock()
	})
	if len(copies) == 2 {
		var docs []*porting.RawDoc
		for _, d := range copies {
			docs = append(docs, d)
		}
		if !docs[0].Equal(docs[1]) {
			t.Errorf("the copies on the two engines differ: %+v and %+v", docs[0].Attachments, docs[1].Attachments)
		}
	}
}
