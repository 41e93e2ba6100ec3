package couch_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/couch"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

// openEngine opens the engine on the server at u, its leases in a database
// of the test's own; the engine is closed and that database removed when
// the test ends.
func openEngine(t *testing.T, u string) *couch.Engine {
	t.Helper()
	leases := fmt.Sprintf("%sleases_%d", couchdbtest.Prefix(), seq.Add(1))
	e, err := couch.Open(testCtx(t), couch.Options{URL: u, LeaseDB: leases})
	if err != nil {
		t.Fatalf("couch.Open %s: %v", couch.MaskURL(u), err)
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.DeleteDB(c, leases); err != nil && !errors.Is(err, engine.ErrNotFound) {
			t.Logf("cleanup: delete %s: %v", leases, err)
		}
		_ = e.Close()
	})
	return e
}

// newDB creates a database of the test's own on e, deleted when the test
// ends.
func newDB(t *testing.T, e engine.Engine) string {
	t.Helper()
	db := fmt.Sprintf("%sdb_%d", couchdbtest.Prefix(), seq.Add(1))
	if err := e.CreateDB(testCtx(t), db); err != nil {
		t.Fatalf("CreateDB %s: %v", db, err)
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.DeleteDB(c, db); err != nil {
			t.Logf("cleanup: delete %s: %v", db, err)
		}
	})
	return db
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// MaskURL hides the password of every URL portreqd takes, also of those
// url.Parse refuses and of those without a scheme (kivik assumes http://),
// since the result goes into logs and errors.
func TestMaskURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://admin:secret@127.0.0.1:5984", "http://admin:xxxxx@127.0.0.1:5984"},
		{"https://u:p%40ss@db.example:6984/couch/?x=1", "https://u:xxxxx@db.example:6984/couch/?x=1"},
		{"http://u:p@ss@host", "http://u:xxxxx@host"},
		{"http://admin@127.0.0.1:5984", "http://admin@127.0.0.1:5984"},
		{"http://127.0.0.1:5984/", "http://127.0.0.1:5984/"},
		{"http://127.0.0.1:5984/?q=a@b", "http://127.0.0.1:5984/?q=a@b"},
		{"admin:secret@host:5984", "admin:xxxxx@host:5984"}, // kivik assumes http://
		{"http://admin:secret@[::1", "http://admin:xxxxx@[::1"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := couch.MaskURL(tt.in); got != tt.want {
			t.Errorf("MaskURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A server that cannot be reached fails Open as unavailable; a URL that
// cannot be parsed fails it as the caller's mistake. Neither error echoes
// the password, and both name the server by its masked URL.
func TestOpenUnreachable(t *testing.T) {
	const password = "s3cr3t-Pw"
	tests := []struct {
		name, url string
		want      error
	}{
		{"refused", "http://admin:" + password + "@127.0.0.1:1", engine.ErrUnavailable},
		{"bad url", "http://admin:" + password + "@[::1", engine.ErrBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			e, err := couch.Open(c, couch.Options{URL: tt.url})
			if err == nil {
				_ = e.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Open: %v, want %v", err, tt.want)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error reveals the password: %v", err)
			}
			if !strings.Contains(err.Error(), "admin:xxxxx@") {
				t.Errorf("error does not name the masked URL: %v", err)
			}
		})
	}
}

// Wrong credentials never pass for a working server: GET / answers
// anyone, so Ping is what must fail (credentials refused: the operator's
// problem, which no retry mends),
// and no error echoes the password.
func TestBadCredentials(t *testing.T) {
	u, err := url.Parse(couchdbtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	const password = "wr0ng-Pw"
	u.User = url.UserPassword("nobody", password)
	e, err := couch.Open(testCtx(t), couch.Options{URL: u.String()})
	if err == nil {
		defer e.Close()
		err = e.Ping(testCtx(t))
		if err == nil {
			t.Fatal("Ping with wrong credentials succeeded")
		}
	}
	if !errors.Is(err, engine.ErrUnauthorized) {
		t.Errorf("wrong credentials: %v, want %v (not \"unavailable\": no retry mends a password)", err, engine.ErrUnauthorized)
	}
	if strings.Contains(err.Error(), password) {
		t.Errorf("error reveals the password: %v", err)
	}
}

// Ping answers nil with the right credentials.
func TestPing(t *testing.T) {
	e := openEngine(t, couchdbtest.URL(t))
	if err := e.Ping(testCtx(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}
