package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/bolt"
	"github.com/portreqd/portreqd/pkg/engine/couch"
	"github.com/portreqd/portreqd/pkg/engine/enginetest"
	"github.com/portreqd/portreqd/pkg/kazoo"
	"github.com/portreqd/portreqd/pkg/kazoo/kazootest"
	"github.com/portreqd/portreqd/pkg/metrics"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/test/couchdbtest"
)

// seq makes database prefixes unique within this process.
var seq atomic.Int64

// engineKind opens a fresh engine of one kind and the database prefix the
// test owns (its databases are deleted when it ends).
type engineKind struct {
	name string
	open func(t *testing.T) (engine.Engine, string)
	dev  func(t *testing.T) enginetest.Deviations
}

func engineKinds() []engineKind {
	return []engineKind{
		{"embedded", func(t *testing.T) (engine.Engine, string) {
			t.Helper()
			e, err := bolt.Open(filepath.Join(t.TempDir(), "engine.db"), bolt.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			return e, "t_"
		}, func(*testing.T) enginetest.Deviations { return enginetest.Deviations{} }},
		{"couchdb", func(t *testing.T) (engine.Engine, string) {
			t.Helper()
			u := couchdbtest.URL(t)
			prefix := fmt.Sprintf("%smetrics_%d_", couchdbtest.Prefix(), seq.Add(1))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			e, err := couch.Open(ctx, couch.Options{URL: u, LeaseDB: prefix + "portreqd_leases"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { kazootest.DropPrefix(t, u, prefix) })
			return e, prefix
		}, func(*testing.T) enginetest.Deviations {
			// Apache CouchDB keeps compressible attachments gzipped.
			return enginetest.Deviations{GzipsAttachments: true}
		}},
	}
}

// capabilities are what the Kazoo store asks an engine by type assertion,
// as it reads the answers. Replications are the server's, shared with every
// test running beside this one, so only those of the test's prefix count.
func capabilities(ctx context.Context, e engine.Engine, prefix string) map[string]string {
	out := map[string]string{}
	l, ok := e.(engine.LocalReads)
	out["LocalReads"] = fmt.Sprint(ok && l.LocalReads())
	_, ok = e.(engine.AttachmentsAt)
	out["AttachmentsAt"] = fmt.Sprint(ok)
	if r, ok := e.(engine.Replicating); ok {
		reps, err := r.Replications(ctx)
		var ours []engine.Replication
		for _, rep := range reps {
			if strings.HasPrefix(rep.DocID, prefix) {
				ours = append(ours, rep)
			}
		}
		out["Replicating"] = fmt.Sprintf("true: %v, error %v", ours, err)
	} else {
		out["Replicating"] = "false"
	}
	if v, ok := e.(interface {
		Version(context.Context) (string, string, error)
	}); ok {
		vendor, version, err := v.Version(ctx)
		if err == nil {
			out["Version"] = vendor + " " + version
		}
	}
	return out
}

// TestEngineCapabilities checks that the wrapped engine answers every
// capability question as the engine it wraps, on each real engine.
func TestEngineCapabilities(t *testing.T) {
	for _, k := range engineKinds() {
		t.Run(k.name, func(t *testing.T) {
			e, prefix := k.open(t)
			defer e.Close()
			ctx := context.Background()
			want := capabilities(ctx, e, prefix)
			if diff := cmp.Diff(want, capabilities(ctx, metrics.New().Engine(e), prefix)); diff != "" {
				t.Errorf("wrapped engine's capabilities (-inner +wrapped):\n%s", diff)
			}
		})
	}
}

// The four combinations of the optional interfaces whose presence alone
// matters, on an engine that implements nothing else.
type (
	bare          struct{ engine.Engine }
	replicating   struct{ engine.Engine }
	attachmentsAt struct{ engine.Engine }
	both          struct{ engine.Engine }
)

// stubReplications is what the stubs answer, for the wrapper to pass on.
var stubReplications = []engine.Replication{{DocID: "stub", State: "running", DocsWritten: 7, ChangesPending: -1}}

func (replicating) Replications(context.Context) ([]engine.Replication, error) {
	return stubReplications, nil
}
func (attachmentsAt) GetAttachmentAt(context.Context, string, string, string, string) (*engine.Attachment, error) {
	return nil, nil
}
func (both) Replications(context.Context) ([]engine.Replication, error) { return stubReplications, nil }
func (both) GetAttachmentAt(context.Context, string, string, string, string) (*engine.Attachment, error) {
	return nil, nil
}

// TestEngineCapabilityCombinations checks each combination of optional
// interfaces an engine may have, beyond the two engines portreqd has.
func TestEngineCapabilityCombinations(t *testing.T) {
	m := metrics.New()
	for _, inner := range []engine.Engine{bare{}, replicating{}, attachmentsAt{}, both{}} {
		_, wantR := inner.(engine.Replicating)
		_, wantA := inner.(engine.AttachmentsAt)
		w := m.Engine(inner)
		_, gotR := w.(engine.Replicating)
		_, gotA := w.(engine.AttachmentsAt)
		if gotR != wantR || gotA != wantA {
			t.Errorf("%T wrapped: Replicating %v, AttachmentsAt %v; want %v, %v", inner, gotR, gotA, wantR, wantA)
		}
		if r, ok := w.(engine.Replicating); ok {
			reps, err := r.Replications(context.Background())
			if diff := cmp.Diff(stubReplications, reps); err != nil || diff != "" {
				t.Errorf("%T wrapped: Replications error %v, answer (-inner +wrapped):\n%s", inner, err, diff)
			}
		}
	}
}

// TestEngineContract runs the engine contract on each wrapped engine: the
// wrapper changes no answer.
func TestEngineContract(t *testing.T) {
	for _, k := range engineKinds() {
		t.Run(k.name, func(t *testing.T) {
			enginetest.RunWith(t, func(t *testing.T) (engine.Engine, string) {
				e, prefix := k.open(t)
				return metrics.New().Engine(e), prefix
			}, k.dev(t))
		})
	}
}

// TestStoreThroughMeteredEngine runs the same port requests through the
// Kazoo store on each engine, plain and wrapped: the outcomes are the same,
// the store still reads as each engine allows (one read per document on
// the embedded engine, one _all_docs on CouchDB), and the calls are
// counted by outcome.
func TestStoreThroughMeteredEngine(t *testing.T) {
	for _, k := range engineKinds() {
		t.Run(k.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			openStore := func(wrap func(engine.Engine) engine.Engine) *kazoo.Store {
				e, prefix := k.open(t)
				s, err := kazoo.Open(ctx, wrap(e), kazoo.Options{Prefix: prefix, KazooDesigns: k.name == "couchdb"})
				if err != nil {
					_ = e.Close()
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close() })
				return s
			}
			plain := openStore(func(e engine.Engine) engine.Engine { return e })
			m := metrics.New()
			srv := httptest.NewServer(m.Handler())
			defer srv.Close()
			var wrapped engine.Engine
			metered := openStore(func(e engine.Engine) engine.Engine { wrapped = m.Engine(e); return wrapped })

			want, _ := storeScenario(t, ctx, plain)
			got, ids := storeScenario(t, ctx, metered)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("outcomes (-plain +wrapped):\n%s", diff)
			}

			calls := func(op, outcome string) float64 {
				v, _ := scrape(t, srv.URL).value("portreqd_store_calls_total", map[string]string{"op": op, "outcome": outcome})
				return v
			}
			type counts struct{ Get, AllDocs float64 }
			before := counts{calls("get", "ok"), calls("all_docs", "ok")}
			if err := metered.RequestDocs(ctx, ids, func(string, []byte) error { return nil }); err != nil {
				t.Fatal(err)
			}
			delta := counts{calls("get", "ok") - before.Get, calls("all_docs", "ok") - before.AllDocs}
			wantDelta := counts{AllDocs: 1}
			if k.name == "embedded" {
				wantDelta = counts{Get: float64(len(ids))}
			}
			if delta != wantDelta {
				t.Errorf("reading %d documents: %+v engine calls, want %+v", len(ids), delta, wantDelta)
			}

			// One call of each outcome, counted once.
			db := ""
			if dbs, err := wrapped.AllDBs(ctx); err == nil && len(dbs) > 0 {
				db = dbs[len(dbs)-1]
			}
			for _, c := range []struct {
				op, outcome string
				call        func() error
			}{
				{"get", "not_found", func() error {
					_, err := wrapped.Get(ctx, db, "no-such-document", engine.GetOptions{})
					return err
				}},
				{"put", "ok", func() error {
					_, err := wrapped.Put(ctx, db, "metrics-doc", []byte(`{"a":1}`))
					return err
				}},
				{"put", "conflict", func() error {
					_, err := wrapped.Put(ctx, db, "metrics-doc", []byte(`{"a":2}`))
					return err
				}},
				{"query", "not_found", func() error {
					return wrapped.Query(ctx, db, "no_such_design", "v", engine.Query{}, func(engine.Row) error { return nil })
				}},
				{"all_docs", "ok", func() error {
					stop := errors.New("stop")
					err := wrapped.AllDocs(ctx, db, engine.Query{}, func(engine.Row) error { return stop })
					if !errors.Is(err, stop) {
						return fmt.Errorf("AllDocs: %v, want the callback's error", err)
					}
					return nil
				}},
			} {
				before := calls(c.op, c.outcome)
				if err := c.call(); err != nil && c.outcome == "ok" {
					t.Fatalf("%s: %v", c.op, err)
				}
				if d := calls(c.op, c.outcome) - before; d != 1 {
					t.Errorf("%s %s: counted %v times, want once", c.op, c.outcome, d)
				}
			}
		})
	}
}

// storeScenario runs port requests through a Service on s and returns
// what each step answered, and the ids of the requests it made.
func storeScenario(t *testing.T, ctx context.Context, s *kazoo.Store) ([]string, []string) {
	t.Helper()
	svc := porting.NewService(porting.Config{Store: s})
	master, _, err := svc.Bootstrap(ctx, "scenario-key")
	if err != nil {
		t.Fatal(err)
	}
	var out, ids []string
	note := func(step string, r *porting.Request, err error) {
		switch {
		case err != nil:
			kind := "error"
			var pe *porting.Error
			if errors.As(err, &pe) {
				kind = fmt.Sprint(pe.Kind)
			}
			out = append(out, step+": "+kind)
		default:
			out = append(out, fmt.Sprintf("%s: %s %v", step, r.State, r.Numbers()))
		}
	}
	create := func(name string, numbers ...string) *porting.Request {
		data := porting.Fields{}
		data.Set("name", name)
		nums := map[string]any{}
		for _, n := range numbers {
			nums[n] = map[string]any{}
		}
		data.Set("numbers", nums)
		r, err := svc.CreateRequest(ctx, master, master.ID, data)
		note("create "+name, r, err)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
		return r
	}
	submit := func(name string, r *porting.Request, to porting.State) {
		got, err := svc.Transition(ctx, master, master.ID, r.ID, to, porting.TransitionInput{Data: porting.Fields{}})
		note(string(to)+" "+name, got, err)
	}
	a := create("a", "+13125550180", "+13125550181")
	b := create("b", "+13125550181", "+13125550182")
	submit("a", a, porting.Submitted)
	submit("b", b, porting.Submitted) // one number claimed by a
	submit("a", a, porting.Canceled)
	submit("b", b, porting.Submitted) // free now
	got, err := svc.GetRequest(ctx, master, master.ID, b.ID)
	note("get b", got, err)
	_, err = svc.GetRequest(ctx, master, master.ID, "00000000000000000000000000000000")
	note("get missing", nil, err)
	site, err := s.SiteID(ctx, func() string { return "site" })
	out = append(out, fmt.Sprintf("site id set: %v, %v", site != "", err))
	return out, ids
}
