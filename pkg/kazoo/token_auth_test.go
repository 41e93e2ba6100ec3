package kazoo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/bolt"
	"github.com/portreqd/portreqd/pkg/engine/couch"
	"github.com/portreqd/portreqd/pkg/kazoo"
	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

// betweenEngine runs meanwhile (once) before the next Put of a document
// of token_auth: what another writer does between TouchToken's read and
// its write.
type betweenEngine struct {
	engine.Engine
	mu        sync.Mutex
	meanwhile func(db, id string)
}

func (b *betweenEngine) Put(ctx context.Context, db, id string, body []byte) (string, error) {
	b.mu.Lock()
	f := b.meanwhile
	if strings.HasSuffix(db, "token_auth") {
		b.meanwhile = nil
	}
	b.mu.Unlock()
	if f != nil && strings.HasSuffix(db, "token_auth") {
		f(db, id)
	}
	return b.Engine.Put(ctx, db, id, body)
}

// TestTouchToken: a Kazoo 4.0 token's pvt_modified moves to the time of
// use and nothing else changes; a token deleted before or during the touch
// stays deleted; one written during it keeps its writer's content; no
// error names the token.
func TestTouchToken(t *testing.T) {
	for _, k := range []struct {
		name string
		open func(t *testing.T) (engine.Engine, string)
	}{
		{"embedded", func(t *testing.T) (engine.Engine, string) {
			e, err := bolt.Open(filepath.Join(t.TempDir(), "engine.db"), bolt.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			return e, ""
		}},
		{"couchdb", func(t *testing.T) (engine.Engine, string) {
			u := couchdbtest.URL(t)
			prefix := fmt.Sprintf("%stouch%d_", couchdbtest.Prefix(), seq.Add(1))
			e, err := couch.Open(ctx(t), couch.Options{URL: u, LeaseDB: prefix + "leases"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { kazootest.DropPrefix(t, u, prefix) })
			return e, prefix
		}},
	} {
		t.Run(k.name, func(t *testing.T) {
			inner, prefix := k.open(t)
			eng := &betweenEngine{Engine: inner}
			st, err := kazoo.Open(ctx(t), eng, kazoo.Options{Prefix: prefix})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			testTouchToken(t, st, eng)
		})
	}
}

func testTouchToken(t *testing.T, st *kazoo.Store, eng *betweenEngine) {
	c := ctx(t)
	then := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	put := func(id string, modified time.Time) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"account_id": "5b8c1f0e2d3a4b5c6d7e8f9012345678", "method": "cb_user_auth",
			"pvt_created": porting.Gregorian(modified), "pvt_modified": porting.Gregorian(modified)})
		if err := st.RawPut(c, "token_auth", &porting.RawDoc{ID: id, Body: body}, nil); err != nil {
			t.Fatal(err)
		}
	}
	members := func(id string) map[string]any {
		t.Helper()
		d, err := st.RawGet(c, "token_auth", id)
		if porting.IsKind(err, porting.KindNotFound) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		_ = json.Unmarshal(d.Body, &m)
		return m
	}
	const token = "3f2a9c1e8b7d6a5f4e3d2c1b0a998877"
	gone := func(err error, what string) {
		t.Helper()
		if !porting.IsKind(err, porting.KindNotFound) || strings.Contains(err.Error(), token) {
			t.Errorf("%s: %v, want not found without the token in it", what, err)
		}
	}

	put(token, then.Add(-50*time.Minute))
	if err := st.TouchToken(c, token, then); err != nil {
		t.Fatal(err)
	}
	m := members(token)
	if m["pvt_modified"] != float64(porting.Gregorian(then)) || m["pvt_created"] != float64(porting.Gregorian(then.Add(-50*time.Minute))) || m["method"] != "cb_user_auth" {
		t.Errorf("after the touch: %v; want pvt_modified %d and the rest unchanged", m, porting.Gregorian(then))
	}

	// Deleted before: not found, and not brought back.
	gone(st.TouchToken(c, "ffff"+token[4:], then), "a token that never was")

	// Deleted between the read and the write (a logout): stays deleted.
	eng.mu.Lock()
	eng.meanwhile = func(db, id string) {
		raw, err := eng.Engine.Get(context.Background(), db, id, engine.GetOptions{})
		if err == nil {
			var h struct {
				Rev string `json:"_rev"`
			}
			_ = json.Unmarshal(raw, &h)
			_, err = eng.Engine.Delete(context.Background(), db, id, h.Rev)
		}
		if err != nil {
			t.Errorf("meanwhile, delete: %v", err)
		}
	}
	eng.mu.Unlock()
	if err := st.TouchToken(c, token, then.Add(time.Minute)); err != nil {
		t.Errorf("a touch that lost to a logout: %v, want nil", err)
	}
	if m := members(token); m != nil {
		t.Errorf("a token logged out during a touch came back: %v", m)
	}

	// Written between the read and the write (Kazoo's own touch): the
	// writer's content stands.
	put(token, then)
	eng.mu.Lock()
	eng.meanwhile = func(string, string) { put(token, then.Add(2*time.Minute)) }
	eng.mu.Unlock()
	if err := st.TouchToken(c, token, then.Add(time.Minute)); err != nil {
		t.Errorf("a touch that lost to another writer: %v, want nil", err)
	}
	if m := members(token); m["pvt_modified"] != float64(porting.Gregorian(then.Add(2*time.Minute))) {
		t.Errorf("after a touch that lost: %v, want the other writer's pvt_modified", m["pvt_modified"])
	}
}
