package bolt_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/bolt"
)

// benchDesign is shaped like Kazoo's listings: by account, state and
// modification time.
const benchDesign = `{"views":{"by_state":{"map":"function(doc){ if (doc.pvt_type != 'port_request') return; emit([doc.pvt_account_id, doc.port_state, doc.pvt_modified], null); }"}}}`

// doc2K is a port-request-like document of about 2 KB.
func doc2K(i int) string {
	return fmt.Sprintf(`{"pvt_type":"port_request","pvt_account_id":"acct%02d","port_state":%q,"pvt_modified":%d,"name":"Port %d",`+
		`"numbers":{"+1202555%04d":{}},"notes":%q}`, i%10, []string{"submitted", "pending", "completed"}[i%3], 63800000000+i, i, i%10000,
		strings.Repeat("n", 1800))
}

func benchEngine(b *testing.B, o bolt.Options, docs int) *bolt.Engine {
	b.Helper()
	e := fresh(b, o)
	put(b, e, "_design/t", benchDesign)
	const batch = 500
	for i := 0; i < docs; i += batch {
		var bodies [][]byte
		for j := i; j < min(docs, i+batch); j++ {
			bodies = append(bodies, []byte(fmt.Sprintf(`{"_id":"doc%06d",`, j)+doc2K(j)[1:]))
		}
		if _, err := e.Bulk(ctx(b), "db", bodies); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC() // not the setup's garbage in the timings
	return e
}

// BenchmarkPut creates 2 KB documents (one view maintained), one writer,
// each write committed and fsynced.
func BenchmarkPut(b *testing.B) {
	e := benchEngine(b, bolt.Options{}, 0)
	c := ctx(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Put(c, "db", fmt.Sprintf("p%08d", i), []byte(doc2K(i))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutParallel is BenchmarkPut from 16 writers: they share
// commits.
func BenchmarkPutParallel(b *testing.B) {
	e := benchEngine(b, bolt.Options{}, 0)
	c := ctx(b)
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(n.Add(1))
			if _, err := e.Put(c, "db", fmt.Sprintf("p%08d", i), []byte(doc2K(i))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPutNoSync is BenchmarkPut without fsync: the engine's own cost.
func BenchmarkPutNoSync(b *testing.B) {
	e := benchEngine(b, bolt.Options{NoSync: true}, 0)
	c := ctx(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Put(c, "db", fmt.Sprintf("p%08d", i), []byte(doc2K(i))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGet reads 2 KB documents out of 10,000.
func BenchmarkGet(b *testing.B) {
	e := benchEngine(b, bolt.Options{NoSync: true}, 10000)
	c := ctx(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Get(c, "db", fmt.Sprintf("doc%06d", (i*7919)%10000), engine.GetOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQuery50 reads a 50-row page of a view with include_docs, out
// of 10,000 documents, as a listing does.
func BenchmarkQuery50(b *testing.B) {
	e := benchEngine(b, bolt.Options{NoSync: true}, 10000)
	c := ctx(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		acct := fmt.Sprintf("acct%02d", i%10)
		n := 0
		err := e.Query(c, "db", "t", "by_state", engine.Query{
			StartKey: []byte(fmt.Sprintf(`[%q,"submitted"]`, acct)), EndKey: []byte(fmt.Sprintf(`[%q,"submitted",{}]`, acct)),
			Limit: 50, IncludeDocs: true,
		}, func(r engine.Row) error {
			n++
			return nil
		})
		if err != nil || n != 50 {
			b.Fatalf("%d rows, %v", n, err)
		}
	}
}
