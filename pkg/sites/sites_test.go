package sites_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/couch"
	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
	"github.com/portreqd/portreqd/pkg/sites"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

// openSites opens every server of COUCHDB_SITE_URLS as a site; it removes
// the test's replications and databases when the test ends.
func openSites(t *testing.T, prefix string) *sites.Keeper {
	t.Helper()
	ctx := context.Background()
	k := &sites.Keeper{Prefix: prefix}
	for _, u := range couchdbtest.SiteURLs(t) {
		eng, err := couch.Open(ctx, couch.Options{URL: u, Logger: zap.NewNop()})
		if err != nil {
			t.Fatal(err)
		}
		k.Sites = append(k.Sites, sites.Site{URL: u, Engine: eng})
	}
	t.Cleanup(func() {
		if _, err := k.Remove(ctx); err != nil {
			t.Errorf("remove replications: %v", err)
		}
		var engines []engine.Engine
		for _, s := range k.Sites {
			engines = append(engines, s.Engine)
		}
		kazootest.DropPrefixOn(t, prefix, engines...)
		for _, s := range k.Sites {
			_ = s.Engine.Close()
		}
	})
	return k
}

func put(t *testing.T, s sites.Site, db, id, body string) {
	t.Helper()
	ctx := context.Background()
	if err := s.Engine.CreateDB(ctx, db); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Engine.Put(ctx, db, id, []byte(body)); err != nil {
		t.Fatal(err)
	}
}

// arrives waits (60 s at most) until document id is in db on site s and
// returns how long that took.
func arrives(t *testing.T, s sites.Site, db, id string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		_, err := s.Engine.Get(context.Background(), db, id, engine.GetOptions{})
		if err == nil {
			return time.Since(start)
		}
		if !errors.Is(err, engine.ErrNotFound) {
			t.Fatal(err)
		}
		if time.Since(start) > time.Minute {
			t.Fatalf("%s/%s never arrived", db, id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKeeperReplicatesEveryWay sets replication up between the sites of
// COUCHDB_SITE_URLS (independent Apache CouchDB nodes), writes on each and
// checks that every shared database reaches every site, new databases
// included once the keeper sees them, that nothing else replicates, that a
// second pass changes nothing, and that every replication runs.
func TestKeeperReplicatesEveryWay(t *testing.T) {
	prefix := couchdbtest.Prefix() + "sites_"
	k := openSites(t, prefix)
	ctx := context.Background()
	a, b := k.Sites[0], k.Sites[1]
	requests, accounts, numbers := prefix+"port_requests", prefix+"accounts", prefix+"numbers/+1202"
	put(t, a, requests, "r1", `{"pvt_type":"port_request","name":"from a"}`)
	put(t, b, accounts, "a1", `{"pvt_type":"account","name":"from b"}`)
	put(t, a, prefix+"not_shared", "x", `{}`)

	rep, err := k.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := len(k.Sites)
	// Each of the two databases is pulled by every other site.
	if rep.Databases != 2 || rep.Created != 2*(n-1) || rep.Updated != 0 {
		t.Errorf("first pass: %v", rep)
	}
	for _, s := range k.Sites {
		arrives(t, s, requests, "r1")
		arrives(t, s, accounts, "a1")
	}
	// A write on a site that received the database through replication
	// goes back once the keeper has seen the database there too.
	put(t, b, numbers, "+12025550100", `{"pvt_type":"number"}`)
	if rep, err = k.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("second pass: %v", rep)
	put(t, b, requests, "r2", `{"pvt_type":"port_request","name":"from b"}`)
	for _, s := range k.Sites {
		arrives(t, s, requests, "r2")
		arrives(t, s, numbers, "+12025550100")
	}
	// Databases created by replication are seen by the next pass; the
	// passes settle once every database is on every site.
	for pass := 0; ; pass++ {
		if rep, err = k.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if rep.Created == 0 && rep.Updated == 0 {
			break
		}
		if pass == 3 {
			t.Fatalf("the passes do not settle: %v", rep)
		}
	}
	// Three databases, each on every site now, each pulled from every
	// other site by every site.
	if want := 3 * n * (n - 1); rep.Unchanged != want {
		t.Errorf("settled pass: %v (want %d unchanged)", rep, want)
	}
	if ok, _ := b.Engine.DBExists(ctx, prefix+"not_shared"); ok {
		t.Error("a database that is not shared was replicated")
	}
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := k.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		running := 0
		for _, s := range st {
			if s.State == "running" {
				running++
			}
			if strings.Contains(s.Source+s.Target, "secret") {
				t.Fatalf("status shows credentials: %+v", s)
			}
		}
		if len(st) == 3*n*(n-1) && running == len(st) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute %d of %d replications run: %+v", running, len(st), st)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// With every replication running: how long a write takes to reach the
	// other sites.
	for i, from := range k.Sites {
		id := fmt.Sprintf("late%d", i)
		put(t, from, requests, id, `{"pvt_type":"port_request"}`)
		for j, to := range k.Sites {
			if j != i {
				t.Logf("write on site %d visible on site %d after %s", i, j, arrives(t, to, requests, id).Round(time.Millisecond))
			}
		}
	}
}
