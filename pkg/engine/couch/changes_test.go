package couch_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/couch"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

// A continuous feed whose database is deleted under it ends with an error
// the caller can act on (start it again), not a crash of the process
// (kivik v4.5.2 panics at the end of a continuous feed: nextChange).
func TestContinuousFeedOfDeletedDatabase(t *testing.T) {
	u := couchdbtest.URL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := couch.Open(ctx, couch.Options{URL: u})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	db := fmt.Sprintf("engine_test_feed_%d", time.Now().UnixNano())
	if err := e.CreateDB(ctx, db); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- e.Changes(ctx, db, engine.ChangesQuery{Since: "now", Continuous: true}, func(engine.Change) error { return nil })
	}()
	time.Sleep(100 * time.Millisecond) // the feed is open
	if err := e.DeleteDB(ctx, db); err != nil {
		t.Fatal(err)
	}
	vendor, _, err := e.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToLower(vendor), "pouchdb") {
		// pouchdb-server (the fallback) keeps such a feed open: it ends
		// with its context, quietly.
		select {
		case err := <-done:
			t.Logf("pouchdb-server ended the feed: %v", err)
		case <-time.After(2 * time.Second):
			cancel()
			if err := <-done; err != nil {
				t.Errorf("the feed, cancelled: %v, want nil", err)
			}
		}
		return
	}
	select {
	case err := <-done:
		if err == nil || !(errors.Is(err, engine.ErrUnavailable) || errors.Is(err, engine.ErrNotFound)) {
			t.Errorf("the feed of a deleted database ended with %v, want unavailable or not found", err)
		}
	case <-ctx.Done():
		t.Fatal("the feed of a deleted database never ended")
	}
}
