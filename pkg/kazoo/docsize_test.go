package kazoo_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/portreqd/portreqd/pkg/kazoo"
	"github.com/portreqd/portreqd/pkg/porting"
)

// A port request larger than the bound is refused before it reaches the
// engine (413), on create and on update; the stored one is unchanged.
func TestDocumentSizeBound(t *testing.T) {
	sites(t, func(t *testing.T, s site) {
		st, err := kazoo.Open(ctx(t), s.engine(t), kazoo.Options{Prefix: s.prefix, MaxDocumentBytes: 2000, KazooDesigns: s.kazoo})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		r := &porting.Request{ID: porting.RandomID(), AccountID: "a", State: porting.Unconfirmed, Public: porting.Fields{}, Private: porting.Fields{}}
		r.Public.Set("name", strings.Repeat("n", 3000))
		if err := st.CreateRequest(ctx(t), r); porting.KindOf(err) != porting.KindTooLarge || !strings.Contains(fmt.Sprint(err.(*porting.Error).Data), "at most 2000") {
			t.Fatalf("create of a 3 KB request: %v, want too large", err)
		}
		r.Public.Set("name", "small")
		if err := st.CreateRequest(ctx(t), r); err != nil {
			t.Fatal(err)
		}
		rev := r.Rev
		r.Public.Set("name", strings.Repeat("n", 3000))
		if err := st.UpdateRequest(ctx(t), r); porting.KindOf(err) != porting.KindTooLarge {
			t.Fatalf("update to 3 KB: %v, want too large", err)
		}
		got, err := st.GetRequest(ctx(t), r.ID)
		if err != nil || got.Rev != rev || got.Name() != "small" {
			t.Errorf("stored after the refused update: %v, %v", got, err)
		}
	})
}
