package kazoo_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/bolt"
	"github.com/portreqd/portreqd/pkg/engine/couch"
	"github.com/portreqd/portreqd/pkg/kazoo"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/porting/storetest"
	"github.com/portreqd/portreqd/test/couchdbtest"
	"github.com/portreqd/portreqd/views"
)

// site is one test's databases, which several stores (portreqd replicas)
// may share: on CouchDB each store has an engine (connections) of its own;
// on the embedded engine, whose file one process holds, the stores share
// one engine.
type site struct {
	prefix string
	// kazoo says that stores install Kazoo's design documents (CouchDB,
	// as portreqd runs on it).
	kazoo bool
	// raw is an engine on the site's databases, to inspect and plant
	// documents behind the stores' backs.
	raw engine.Engine
	// engine opens one more engine on the site's databases, closed when
	// the test ends unless a store took it over.
	engine func(t *testing.T) engine.Engine
}

// replica opens one more store on the site's databases, closed when the
// test ends.
func (s site) replica(t *testing.T) *kazoo.Store {
	t.Helper()
	return open(t, s.engine(t), s.prefix)
}

// sites runs f on the embedded engine and, with COUCHDB_URL, on CouchDB.
func sites(t *testing.T, f func(t *testing.T, s site)) {
	t.Run("bolt", func(t *testing.T) {
		eng, err := bolt.Open(filepath.Join(t.TempDir(), "kazoo.db"), bolt.Options{NoSync: true})
		if err != nil {
			t.Fatalf("bolt.Open: %v", err)
		}
		t.Cleanup(func() { _ = eng.Close() })
		f(t, site{raw: eng, engine: func(*testing.T) engine.Engine { return sharedEngine{eng} }})
	})
	t.Run("couch", func(t *testing.T) {
		u := couchdbtest.URL(t)
		s := couchSite(t, u)
		f(t, s)
	})
}

// couchSite is a site of fresh databases on the CouchDB at u, removed when
// the test ends.
func couchSite(t *testing.T, u string) site {
	t.Helper()
	prefix := fmt.Sprintf("%skazoo%d_", couchdbtest.Prefix(), seq.Add(1))
	t.Cleanup(func() { dropPrefix(t, u, prefix) })
	s := site{prefix: prefix, kazoo: true}
	s.engine = func(t *testing.T) engine.Engine {
		t.Helper()
		eng, err := couch.Open(ctx(t), couch.Options{URL: u, LeaseDB: prefix + "leases"})
		if err != nil {
			t.Fatalf("couch.Open: %v", err)
		}
		t.Cleanup(func() { _ = eng.Close() })
		return eng
	}
	s.raw = s.engine(t)
	return s
}

// sharedEngine is an engine that several stores use: the test closes it,
// not the stores.
type sharedEngine struct{ engine.Engine }

func (sharedEngine) Close() error { return nil }

// rawDoc reads a document of Kazoo database db as stored.
func (s site) rawDoc(t *testing.T, db, id string) map[string]any {
	t.Helper()
	raw, err := s.raw.Get(ctx(t), s.prefix+db, id, engine.GetOptions{})
	if err != nil {
		t.Fatalf("raw get %s/%s: %v", db, id, err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("raw get %s/%s: %s: %v", db, id, raw, err)
	}
	return doc
}

// putRaw writes a document of Kazoo database db as given.
func (s site) putRaw(t *testing.T, db, id string, doc map[string]any) string {
	t.Helper()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := s.raw.Put(ctx(t), s.prefix+db, id, b)
	if err != nil {
		t.Fatalf("raw put %s/%s: %v", db, id, err)
	}
	return rev
}

func designDocs(t *testing.T) []views.DesignDoc {
	t.Helper()
	docs, err := views.Own()
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatal("views.Own() has no design documents")
	}
	return docs
}

// kazooDesigns are the Kazoo-compatible design documents of the global
// databases.
func kazooDesigns(t *testing.T) []views.DesignDoc {
	t.Helper()
	docs, err := views.Kazoo()
	if err != nil {
		t.Fatal(err)
	}
	var out []views.DesignDoc
	for _, d := range docs {
		if d.DB == views.ClassAccounts || d.DB == views.ClassPortRequests {
			out = append(out, d)
		}
	}
	if len(out) < 2 {
		t.Fatalf("views.Kazoo() has %d design documents for accounts and port_requests", len(out))
	}
	return out
}

// wantDesigns checks that portreqd's design documents are stored as
// package views has them, and Kazoo's where the stores install them.
func (s site) wantDesigns(t *testing.T) {
	t.Helper()
	want := designDocs(t)
	if s.kazoo {
		want = append(want, kazooDesigns(t)...)
	}
	for _, d := range want {
		got := s.rawDoc(t, d.DB, d.ID)
		delete(got, "_rev")
		if diff := cmp.Diff(d.Doc, got); diff != "" {
			t.Errorf("%s/%s (-want +got):\n%s", d.DB, d.ID, diff)
		}
	}
}

// A second Open rewrites no design document (which would rebuild every
// index of its database).
func TestOpenIsIdempotent(t *testing.T) {
	sites(t, func(t *testing.T, s site) {
		s.replica(t)
		revs := map[string]any{}
		for _, d := range designDocs(t) {
			revs[d.DB+"/"+d.ID] = s.rawDoc(t, d.DB, d.ID)["_rev"]
		}
		s.replica(t)
		for _, d := range designDocs(t) {
			got := s.rawDoc(t, d.DB, d.ID)["_rev"]
			if want := revs[d.DB+"/"+d.ID]; got != want {
				t.Errorf("%s/%s rewritten by a second Open: _rev %v → %v", d.DB, d.ID, want, got)
			}
		}
		s.wantDesigns(t)
	})
}

// Replicas starting together race to create the databases and design
// documents; every one of them comes up, and the design documents are
// package views'.
func TestOpenConcurrently(t *testing.T) {
	sites(t, func(t *testing.T, s site) {
		const replicas = 4
		engines := make([]engine.Engine, replicas)
		for i := range engines {
			engines[i] = s.engine(t)
		}
		errs := make(chan error, replicas)
		start := make(chan struct{})
		for _, eng := range engines {
			go func() {
				<-start
				st, err := kazoo.Open(ctx(t), eng, kazoo.Options{Prefix: s.prefix, KazooDesigns: s.kazoo})
				if err == nil {
					err = st.Close()
				}
				errs <- err
			}()
		}
		close(start)
		for range replicas {
			if err := <-errs; err != nil {
				t.Errorf("Open: %v", err)
			}
		}
		s.wantDesigns(t)
	})
}

// A design document that differs from package views' (an older portreqd,
// or an edit by hand) is replaced by Open.
func TestOpenUpdatesChangedDesignDoc(t *testing.T) {
	sites(t, func(t *testing.T, s site) {
		s.replica(t)
		for _, d := range designDocs(t) {
			t.Run(d.DB+"/"+d.ID, func(t *testing.T) {
				stale := s.rawDoc(t, d.DB, d.ID)
				stale["views"] = map[string]any{"old": map[string]any{"map": "function(doc) {}"}}
				oldRev := s.putRaw(t, d.DB, d.ID, stale)

				s.replica(t)

				got := s.rawDoc(t, d.DB, d.ID)
				if got["_rev"] == oldRev {
					t.Fatalf("design document not updated: _rev still %v", oldRev)
				}
				delete(got, "_rev")
				if diff := cmp.Diff(d.Doc, got); diff != "" {
					t.Errorf("stored design document (-want +got):\n%s", diff)
				}
			})
		}
	})
}

// Wrong credentials are the operator's problem: opening the store (as
// portreqd does: the engine, then Kazoo's databases on it) says the
// credentials were refused, never a client error, and does not echo the
// password.
func TestOpenBadCredentials(t *testing.T) {
	u, err := url.Parse(couchdbtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	const password = "wr0ng-Pw"
	u.User = url.UserPassword("nobody", password)
	prefix := couchdbtest.Prefix() + "badcreds_"
	eng, err := couch.Open(ctx(t), couch.Options{URL: u.String(), LeaseDB: prefix + "leases"})
	if err != nil {
		// The engine refused already: it must say the credentials were
		// refused (not "unavailable": waiting mends no password).
		if !errors.Is(err, engine.ErrUnauthorized) {
			t.Errorf("couch.Open with wrong credentials: %v, want %v", err, engine.ErrUnauthorized)
		}
	} else {
		defer eng.Close()
		var s *kazoo.Store
		s, err = kazoo.Open(ctx(t), eng, kazoo.Options{Prefix: prefix})
		if err == nil {
			_ = s.Close()
			t.Fatal("kazoo.Open with wrong credentials succeeded")
		}
		if !porting.IsKind(err, porting.KindUnavailable) || !strings.Contains(err.Error(), "credentials refused") {
			t.Errorf("kazoo.Open with wrong credentials: %v (kind %d), want KindUnavailable, credentials refused", err, porting.KindOf(err))
		}
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("error reveals the password: %v", err)
	}
}

// Ping answers nil while the engine answers and Kazoo's accounts database
// is there; unavailable without the database, and after Close.
func TestPing(t *testing.T) {
	sites(t, func(t *testing.T, s site) {
		st := s.replica(t)
		if err := st.Ping(ctx(t)); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		if err := s.raw.DeleteDB(ctx(t), s.prefix+"accounts"); err != nil {
			t.Fatal(err)
		}
		if err := st.Ping(ctx(t)); !porting.IsKind(err, porting.KindUnavailable) {
			t.Errorf("Ping without the accounts database = %v, want KindUnavailable", err)
		}
	})
}

// After Close the store answers unavailable, Ping and reads alike.
func TestPingAndClose(t *testing.T) {
	eng, err := bolt.Open(filepath.Join(t.TempDir(), "kazoo.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := kazoo.Open(ctx(t), eng, kazoo.Options{})
	if err != nil {
		_ = eng.Close()
		t.Fatal(err)
	}
	if err := s.Ping(ctx(t)); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Ping(ctx(t)); !porting.IsKind(err, porting.KindUnavailable) {
		t.Errorf("Ping after Close = %v, want KindUnavailable", err)
	}
	if _, err := s.GetRequest(ctx(t), porting.RandomID()); !porting.IsKind(err, porting.KindUnavailable) {
		t.Errorf("GetRequest after Close = %v, want KindUnavailable", err)
	}
	if err := s.CreateRequest(ctx(t), newRequest(porting.RandomID(), 1000)); !porting.IsKind(err, porting.KindUnavailable) {
		t.Errorf("CreateRequest after Close = %v, want KindUnavailable", err)
	}
}

// newRequest is a submitted request of account, named after its id, with
// one number.
func newRequest(account string, modified int64) *porting.Request {
	r := &porting.Request{ID: porting.RandomID(), Public: porting.Fields{}, Private: porting.Fields{},
		State: porting.Submitted, AccountID: account, Tree: []string{account},
		Created: modified - 100, Modified: modified}
	r.Public.Set("name", "port "+r.ID[:6])
	r.Public.Set("numbers", map[string]any{"+1202555" + fmt.Sprint(1000+modified%9000): map[string]any{}})
	return r
}

// Everything written through the store on the embedded engine is there
// after the file is closed and opened again: documents, listings (views)
// and attachment bodies.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kazoo.db")
	s := open(t, openBolt(t, path), "")
	acct := porting.RandomID()
	r := newRequest(acct, 1000)
	if err := s.CreateRequest(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	rev, err := s.PutAttachment(ctx(t), r.ID, r.Rev, "loa.pdf", "application/pdf", &storetest.PatternReader{N: 200_000})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, openBolt(t, path), "")
	got, err := s.GetRequest(ctx(t), r.ID)
	if err != nil || got.Rev != rev {
		t.Fatalf("GetRequest after reopen: %+v, %v; want rev %s", got, err, rev)
	}
	p, err := storetest.ListRequests(ctx(t), s, porting.ListQuery{Account: acct, State: porting.Submitted})
	if err != nil || len(p.Requests()) != 1 || p.Requests()[0].ID != r.ID {
		t.Errorf("listing after reopen: %+v, %v", p, err)
	}
	a, err := s.GetAttachment(ctx(t), r.ID, "loa.pdf")
	if err != nil {
		t.Fatalf("GetAttachment after reopen: %v", err)
	}
	defer a.Body.Close()
	body, err := io.ReadAll(a.Body)
	want, _ := io.ReadAll(&storetest.PatternReader{N: 200_000})
	if err != nil || a.Length != 200_000 || !bytes.Equal(body, want) {
		t.Errorf("attachment after reopen: %d bytes (length %d), %v; want the 200000 uploaded", len(body), a.Length, err)
	}
}
