package kazoo_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/bolt"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/views"
)

func openBolt(t *testing.T, path string) engine.Engine {
	t.Helper()
	eng, err := bolt.Open(path, bolt.Options{NoSync: true})
	if err != nil {
		t.Fatalf("bolt.Open: %v", err)
	}
	return eng
}

// designRev is the revision of portreqd's design document of port_requests.
func designRev(t *testing.T, eng engine.Engine) string {
	t.Helper()
	return designRevIn(t, eng, "port_requests")
}

// designRevIn is the revision of portreqd's design document in database
// db (the engine's name).
func designRevIn(t *testing.T, eng engine.Engine, db string) string {
	t.Helper()
	raw, err := eng.Get(ctx(t), db, views.OwnID, engine.GetOptions{})
	if err != nil {
		t.Fatalf("design document of %s: %v", db, err)
	}
	var d struct {
		Rev string `json:"_rev"`
	}
	_ = json.Unmarshal(raw, &d)
	return d.Rev
}

// Opening again installs nothing: an unchanged design document is not
// rewritten (which would rebuild every index).
func TestOpenKeepsDesignDocuments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kazoo.db")
	s := open(t, openBolt(t, path), "")
	if err := s.Ping(ctx(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := s.Close(); err != nil { // bbolt locks the file
		t.Fatal(err)
	}
	eng := openBolt(t, path)
	first := designRev(t, eng)
	open(t, eng, "")
	if got := designRev(t, eng); got != first {
		t.Errorf("design document rewritten by a second Open: %s → %s", first, got)
	}
}

// The revision-checked read: unchanged only at the current revision.
func TestGetRequestDocUnlessRev(t *testing.T) {
	s := open(t, openBolt(t, filepath.Join(t.TempDir(), "kazoo.db")), "")
	r := &porting.Request{ID: porting.RandomID(), Public: porting.Fields{}, Private: porting.Fields{},
		State: porting.Submitted, AccountID: porting.RandomID(), Created: 63900000000, Modified: 63900000000}
	r.Tree = []string{r.AccountID}
	if err := s.CreateRequest(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	doc, unchanged, err := s.GetRequestDocUnlessRev(ctx(t), r.ID, r.Rev)
	if err != nil || !unchanged || doc != nil {
		t.Fatalf("at the current revision: %q, unchanged %v, %v; want unchanged", doc, unchanged, err)
	}
	old := r.Rev
	r.Public.Set("name", "edited")
	if err := s.UpdateRequest(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	doc, unchanged, err = s.GetRequestDocUnlessRev(ctx(t), r.ID, old)
	if err != nil || unchanged || !strings.Contains(string(doc), r.Rev) {
		t.Fatalf("after an edit: %q, unchanged %v, %v; want the document at %s", doc, unchanged, err, r.Rev)
	}
	if _, _, err := s.GetRequestDocUnlessRev(ctx(t), "_design/port_requests", ""); !porting.IsKind(err, porting.KindNotFound) {
		t.Fatalf("design document: %v, want KindNotFound", err)
	}
}
