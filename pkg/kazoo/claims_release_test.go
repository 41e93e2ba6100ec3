package kazoo_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/kazoo"
	"github.com/portreqd/portreqd/pkg/porting"
)

// A CouchDB cluster can keep a claim write it answered "conflict" to (one
// shard copy stored it), so a claim document may have two live revisions,
// one per racing request, and either may win. ClaimRevisions shows each,
// and DeleteClaims deletes the one it is given, winning or not.
func TestClaimRevisions(t *testing.T) {
	sites(t, func(t *testing.T, s site) {
		st := s.replica(t)
		const number = "+12025550190"
		winner, loser := porting.RandomID(), porting.RandomID()
		if taken, err := st.CreateClaims(ctx(t), []*porting.Claim{{Number: number, RequestID: winner, AccountID: "a", Type: porting.ClaimType}}); err != nil || len(taken) != 0 {
			t.Fatalf("CreateClaims = %v, %v", taken, err)
		}
		_, local := s.raw.(engine.LocalReads)
		conflicted := !local // the embedded engine keeps one leaf per document
		if conflicted {
			// The losing racer's revision, as a shard copy keeps it.
			doc := fmt.Sprintf(`{"_id":%q,"_rev":"1-ffffffffffffffffffffffffffffffff","port_request_id":%q,"pvt_account_id":"a","pvt_type":"port_number_claim"}`, number, loser)
			if err := s.raw.PutRevision(ctx(t), s.prefix+"port_number_claims", number, []byte(doc)); err != nil {
				t.Fatalf("PutRevision: %v", err)
			}
			if got := liveHolders(t, s, number); len(got) != 2 {
				t.Fatalf("planted conflict: live holders %v, want 2", got)
			}
		}

		release(t, st, loser, number, "+12025550191")
		if got := liveHolders(t, s, number); len(got) != 1 || got[0] != winner {
			t.Fatalf("after releasing the loser: live holders %v, want [%s]", got, winner)
		}
		claims, err := st.GetClaims(ctx(t), []string{number})
		if err != nil || claims[number] == nil || claims[number].RequestID != winner {
			t.Fatalf("GetClaims after releasing the loser = %v, %v; want held by %s", claims, err, winner)
		}

		release(t, st, winner, number)
		if got := liveHolders(t, s, number); len(got) != 0 {
			t.Fatalf("after releasing both: live holders %v, want none", got)
		}
		if claims, err := st.GetClaims(ctx(t), []string{number}); err != nil || len(claims) != 0 {
			t.Fatalf("GetClaims after releasing both = %v, %v; want none", claims, err)
		}
	})
}

// release deletes every revision of req's claims on numbers, as the
// service's releaseNumbers does.
func release(t *testing.T, st *kazoo.Store, req string, numbers ...string) {
	t.Helper()
	revs, err := st.ClaimRevisions(ctx(t), numbers)
	if err != nil {
		t.Fatalf("ClaimRevisions: %v", err)
	}
	var mine []*porting.Claim
	for _, n := range numbers {
		for _, c := range revs[n] {
			if c.Number != n || c.Rev == "" {
				t.Errorf("ClaimRevisions(%s) gave %+v", n, c)
			}
			if c.RequestID == req {
				mine = append(mine, c)
			}
		}
	}
	if err := st.DeleteClaims(ctx(t), mine); err != nil {
		t.Fatalf("DeleteClaims: %v", err)
	}
}

// liveHolders lists the request of every live leaf of number's claim.
func liveHolders(t *testing.T, s site, number string) []string {
	t.Helper()
	leaves, err := s.raw.Leaves(ctx(t), s.prefix+"port_number_claims", number)
	if err != nil && !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("Leaves: %v", err)
	}
	var out []string
	for _, l := range leaves {
		var c porting.Claim
		if l.Deleted {
			continue
		}
		if err := json.Unmarshal(l.Doc, &c); err != nil {
			t.Fatalf("claim leaf %s: %v", l.Doc, err)
		}
		out = append(out, c.RequestID)
	}
	return out
}
