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
	"github.com/portreqd/portreqd/test/couchdbtest"
)

var seq atomic.Int64

// TestContract runs the engine contract on the test server (couchdbtest), and
// on a node of the cluster of COUCHDB_CLUSTER_URLS when one is named.
func TestContract(t *testing.T) {
	// The server couchdbtest names: COUCHDB_URL, or a container under
	// -tags docker (it skips without one, and fails under CI=true).
	servers := map[string]string{"server": couchdbtest.URL(t)}
	if urls := os.Getenv("COUCHDB_CLUSTER_URLS"); urls != "" && urls != "none" {
		servers["cluster"] = strings.Split(urls, ",")[0]
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
