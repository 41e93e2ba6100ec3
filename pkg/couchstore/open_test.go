package couchstore_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/couchstore"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/test/couchdbtest"
	"github.com/portreqd/portreqd/views"
)

func TestOpenIsIdempotent(t *testing.T) {
	e := newEnv(t)
	docs, err := views.All()
	if err != nil {
		t.Fatal(err)
	}
	revs := map[string]any{}
	for _, d := range docs {
		revs[d.DB+"/"+d.ID] = e.rawDoc(t, d.DB, d.ID)["_rev"]
	}
	e.open(t)
	for _, d := range docs {
		got := e.rawDoc(t, d.DB, d.ID)["_rev"]
		if want := revs[d.DB+"/"+d.ID]; got != want {
			t.Errorf("%s/%s rewritten by second Open: _rev %v → %v", d.DB, d.ID, want, got)
		}
	}
}

// Replicas starting together race to create the databases and design
// documents; every one of them must come up.
func TestOpenConcurrently(t *testing.T) {
	e := bareEnv(t)
	const replicas = 4
	errs := make(chan error, replicas)
	for range replicas {
		go func() {
			s, err := couchstore.Open(ctx(t), couchstore.Options{URL: e.url, Prefix: e.prefix})
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	for range replicas {
		if err := <-errs; err != nil {
			t.Errorf("Open: %v", err)
		}
	}
	docs, err := views.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		got := e.rawDoc(t, d.DB, d.ID)
		delete(got, "_rev")
		if diff := cmp.Diff(d.Doc, got); diff != "" {
			t.Errorf("%s/%s (-want +got):\n%s", d.DB, d.ID, diff)
		}
	}
}

func TestOpenUpdatesChangedDesignDoc(t *testing.T) {
	e := newEnv(t)
	docs, err := views.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		t.Run(d.DB, func(t *testing.T) {
			stale := e.rawDoc(t, d.DB, d.ID)
			stale["views"] = map[string]any{"old": map[string]any{"map": "function(doc) {}"}}
			oldRev := e.putRaw(t, d.DB, d.ID, stale)

			e.open(t)

			got := e.rawDoc(t, d.DB, d.ID)
			if got["_rev"] == oldRev {
				t.Fatalf("design doc not updated: _rev still %v", oldRev)
			}
			delete(got, "_rev")
			if diff := cmp.Diff(d.Doc, got); diff != "" {
				t.Errorf("stored design doc (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOpenUnreachable(t *testing.T) {
	const password = "s3cr3t-Pw"
	tests := []struct {
		name, url string
	}{
		{"refused", "http://admin:" + password + "@127.0.0.1:1"},
		{"bad url", "http://admin:" + password + "@[::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := couchstore.Open(c, couchstore.Options{URL: tt.url})
			if err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded")
			}
			wantKind(t, err, porting.KindUnavailable)
			if strings.Contains(err.Error(), password) {
				t.Errorf("error reveals the password: %v", err)
			}
			if !strings.Contains(err.Error(), "admin:xxxxx@") {
				t.Errorf("error does not name the masked URL: %v", err)
			}
		})
	}
}

func TestPing(t *testing.T) {
	e := newEnv(t)
	if err := e.store.Ping(ctx(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func TestMaskURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://admin:secret@127.0.0.1:5984", "http://admin:xxxxx@127.0.0.1:5984"},
		{"https://u:p%40ss@db.example:6984/couch/?x=1", "https://u:xxxxx@db.example:6984/couch/?x=1"},
		{"http://u:p@ss@host", "http://u:xxxxx@host"},
		{"http://admin@127.0.0.1:5984", "http://admin@127.0.0.1:5984"},
		{"http://127.0.0.1:5984/", "http://127.0.0.1:5984/"},
		{"http://127.0.0.1:5984/?q=a@b", "http://127.0.0.1:5984/?q=a@b"},
		{"admin:secret@host:5984", "admin:xxxxx@host:5984"}, // kivik assumes http://
		{"", ""},
	}
	for _, tt := range tests {
		if got := couchstore.MaskURL(tt.in); got != tt.want {
			t.Errorf("MaskURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Every view the store queries must be defined in views/, in the database
// the store queries it in.
func TestViewsExist(t *testing.T) {
	docs, err := views.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(couchstore.ViewsUsed) == 0 {
		t.Fatal("no views listed")
	}
	for _, v := range couchstore.ViewsUsed {
		found := false
		for _, d := range docs {
			if d.DB == v.DB && d.ID == "_design/"+v.Design && slices.Contains(d.Views(), v.View) {
				found = true
			}
		}
		if !found {
			t.Errorf("view %s/_design/%s/_view/%s is not in views.All()", v.DB, v.Design, v.View)
		}
	}
}

// Wrong credentials are the operator's problem: Open reports the datastore
// unavailable (never a client 401) and does not echo the password.
func TestOpenBadCredentials(t *testing.T) {
	u, err := url.Parse(couchdbtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	const password = "wr0ng-Pw"
	u.User = url.UserPassword("nobody", password)
	_, err = couchstore.Open(ctx(t), couchstore.Options{URL: u.String(), Prefix: couchdbtest.Prefix() + "badcreds_"})
	wantKind(t, err, porting.KindUnavailable)
	if strings.Contains(err.Error(), password) {
		t.Errorf("error reveals the password: %v", err)
	}
}
