package couchstore

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestClusterSettle races writers through the three nodes of a cluster
// (COUCHDB_CLUSTER_URLS) on one revision of one document (updates: at most
// one acknowledged) and on one new id (creates: exactly one acknowledged),
// and checks that every node then serves the acknowledged revision.
func TestClusterSettle(t *testing.T) {
	urls := strings.Split(os.Getenv("COUCHDB_CLUSTER_URLS"), ",")
	if len(urls) < 3 || urls[0] == "none" {
		t.Skip("COUCHDB_CLUSTER_URLS names no cluster")
	}
	ctx := context.Background()
	prefix := fmt.Sprintf("settle_%d_", time.Now().UnixNano())
	var stores []*Store
	for _, u := range urls {
		s, err := Open(ctx, Options{URL: u, Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, s)
	}
	t.Cleanup(func() {
		for _, db := range []string{dbAccounts, dbPortRequests, dbClaims, dbLeases} {
			_ = stores[0].client.DestroyDB(context.Background(), prefix+db)
		}
		for _, s := range stores {
			_ = s.Close()
		}
	})
	if stores[0].writeN < 3 {
		t.Fatalf("shard copies = %d, want 3: not a cluster", stores[0].writeN)
	}
	const writers, rounds = 6, 15
	race := func(t *testing.T, id, parent string) []string {
		t.Helper()
		revs := make([]string, writers)
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				doc := map[string]any{"v": i + 1}
				if parent != "" {
					doc["_rev"] = parent
				}
				body, _ := json.Marshal(doc)
				revs[i], errs[i] = stores[i%len(stores)].put(ctx, dbClaims, id, parent, body)
			}()
		}
		wg.Wait()
		var acked []string
		for i := range writers {
			if errs[i] == nil {
				acked = append(acked, revs[i])
			}
		}
		if len(acked) > 1 {
			t.Errorf("%s: %d writes acknowledged: %v (errors %v)", id, len(acked), acked, errs)
		}
		return acked
	}
	served := func(t *testing.T, id, want string) {
		t.Helper()
		time.Sleep(100 * time.Millisecond)
		for n, s := range stores {
			leaves, err := s.openRevs(ctx, dbClaims, id)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct {
				Rev string `json:"_rev"`
			}
			if err := s.db(dbClaims).Get(ctx, id).ScanDoc(&doc); err != nil {
				t.Fatal(err)
			}
			if doc.Rev != want {
				t.Errorf("%s: node %d serves %s, acknowledged %s; leaves %v", id, n+1, doc.Rev, want, leaves)
			}
		}
	}
	for round := range rounds {
		id := fmt.Sprintf("doc%d", round)
		acked := race(t, id, "")
		if len(acked) != 1 {
			t.Errorf("%s: %d creates acknowledged, want exactly 1", id, len(acked))
			continue
		}
		served(t, id, acked[0])
		if acked := race(t, id, acked[0]); len(acked) == 1 {
			served(t, id, acked[0])
		} else {
			t.Errorf("%s: no update acknowledged", id)
		}
	}
}
