package kazoo_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/portreqd/portreqd/pkg/engine/couch"
	"github.com/portreqd/portreqd/pkg/kazoo"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

// connCounter is an HTTP proxy in front of a CouchDB that counts the
// connections its clients open.
type connCounter struct {
	conns atomic.Int64
	url   string // the proxy's URL, with the server's credentials
}

func countConns(t *testing.T, target string) *connCounter {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	creds := u.User
	u.User = nil
	cc := &connCounter{}
	proxy := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(u))
	proxy.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			cc.conns.Add(1)
		}
	}
	proxy.Start()
	t.Cleanup(proxy.Close)
	pu, err := url.Parse(proxy.URL)
	if err != nil {
		t.Fatal(err)
	}
	pu.User = creds
	cc.url = pu.String()
	return cc
}

// The read paths read CouchDB's answers to the end, so that their
// connections go back to the pool: a view iterator that closes the answer
// early costs a new TCP connection (and CouchDB a new handler) per call.
// Reads one after the other use one connection.
func TestReadsReuseConnections(t *testing.T) {
	u := couchdbtest.URL(t)
	s := couchSite(t, u)
	setup := s.replica(t)
	r := newRequest(porting.RandomID(), 1000)
	if err := setup.CreateRequest(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	number := r.Numbers()[0]
	claim := &porting.Claim{Number: number, RequestID: r.ID, AccountID: r.AccountID, Type: porting.ClaimType}
	if _, err := setup.CreateClaims(ctx(t), []*porting.Claim{claim}); err != nil {
		t.Fatal(err)
	}

	cc := countConns(t, u)
	eng, err := couch.Open(ctx(t), couch.Options{URL: cc.url, LeaseDB: s.prefix + "leases"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := kazoo.Open(ctx(t), eng, kazoo.Options{Prefix: s.prefix})
	if err != nil {
		_ = eng.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })

	reads := []struct {
		name string
		read func() error
	}{
		{"RequestsByNumber", func() error {
			found, err := st.RequestsByNumber(ctx(t), number)
			if err == nil && (len(found) != 1 || found[0].ID != r.ID) {
				t.Fatalf("RequestsByNumber(%s): %v", number, found)
			}
			return err
		}},
		{"GetRequestDoc", func() error {
			_, err := st.GetRequestDoc(ctx(t), r.ID)
			return err
		}},
		{"GetRequestDocUnlessRev", func() error {
			_, unchanged, err := st.GetRequestDocUnlessRev(ctx(t), r.ID, r.Rev)
			if err == nil && !unchanged {
				t.Fatalf("GetRequestDocUnlessRev at the current revision: changed")
			}
			return err
		}},
		{"GetClaims", func() error {
			got, err := st.GetClaims(ctx(t), []string{number})
			if err == nil && got[number] == nil {
				t.Fatalf("GetClaims(%s): none", number)
			}
			return err
		}},
	}
	before := cc.conns.Load()
	for range 10 {
		for _, rd := range reads {
			if err := rd.read(); err != nil {
				t.Fatalf("%s: %v", rd.name, err)
			}
		}
	}
	if n := cc.conns.Load() - before; n > 1 {
		t.Errorf("%d sequential reads opened %d connections, want at most 1", 10*len(reads), n)
	}
	// Each kind of read alone, so that a failure names the one that
	// drops its connection.
	for _, rd := range reads {
		before := cc.conns.Load()
		for range 5 {
			if err := rd.read(); err != nil {
				t.Fatalf("%s: %v", rd.name, err)
			}
		}
		if n := cc.conns.Load() - before; n > 0 {
			t.Errorf("%s: 5 reads on a warm pool opened %d connections, want none", rd.name, n)
		}
	}
}
