package couch_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/couch"
	"github.com/portreqd/portreqd/pkg/engine/enginetest"
)

var seq atomic.Int64

// TestContract runs the engine contract on the server of COUCHDB_URL, and
// on a node of the cluster of COUCHDB_CLUSTER_URLS when one is named.
func TestContract(t *testing.T) {
	servers := map[string]string{}
	if u := os.Getenv("COUCHDB_URL"); u != "" {
		servers["server"] = u
	}
	if urls := os.Getenv("COUCHDB_CLUSTER_URLS"); urls != "" && urls != "none" {
		servers["cluster"] = strings.Split(urls, ",")[0]
	}
	if len(servers) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("COUCHDB_URL is not set under CI=true")
		}
		t.Skip("no CouchDB: set COUCHDB_URL (e.g. from couchdb/apache-couchdb start)")
	}
	for name, u := range servers {
		t.Run(name, func(t *testing.T) {
			dev := deviations(t, u)
			enginetest.RunWith(t, func(t *testing.T) (engine.Engine, string) {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				leases := fmt.Sprintf("engine_test_leases_%d_%d", time.Now().UnixNano(), seq.Add(1))
				e, err := couch.Open(ctx, couch.Options{URL: u, LeaseDB: leases})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					defer cancel()
					if e, err := couch.Open(ctx, couch.Options{URL: u}); err == nil {
						_ = e.DeleteDB(ctx, leases)
						_ = e.Close()
					}
				})
				return e, fmt.Sprintf("engine_test_%d_%d_", time.Now().UnixNano(), seq.Add(1))
			}, dev)
		})
	}
}

// deviations are pouchdb-server's (the fallback); none for CouchDB, which
// keeps compressible attachments gzipped.
func deviations(t *testing.T, u string) enginetest.Deviations {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := couch.Open(ctx, couch.Options{URL: u})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	vendor, version, err := e.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("server: %s %s", vendor, version)
	if strings.Contains(strings.ToLower(vendor), "pouchdb") {
		return enginetest.Deviations{CodePointCollation: true, SlashlessAllDBs: true}
	}
	return enginetest.Deviations{GzipsAttachments: true}
}
