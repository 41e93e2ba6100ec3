package jsview

import (
	"encoding/json"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time this process has used (all threads, GC included).
// The benchmarks report documents per CPU-second next to documents per
// wall-clock second: on a shared, loaded machine the first is the number
// that means something.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func report(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "docs/cpu-s")
	}
}

// benchDocs are port requests shaped like the fixture, each with its own _id.
func benchDocs(b *testing.B, n int) [][]byte {
	b.Helper()
	fixture, err := os.ReadFile("../../porting/storetest/testdata/kazoo_port_request.json")
	if err != nil {
		b.Fatal(err)
	}
	docs := make([][]byte, n)
	for i := range docs {
		docs[i] = append([]byte(fmt.Sprintf(`{"_id":"bench%06d","_rev":"1-0123456789abcdef0123456789abcdef",`, i)), fixture[1:]...)
	}
	return docs
}

func benchDesign(b *testing.B) *Design {
	b.Helper()
	dd, err := os.ReadFile("../../../views/portreqd/port_requests.json")
	if err != nil {
		b.Fatal(err)
	}
	d, err := Compile(dd)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// BenchmarkMapAllPortRequests maps port request documents through every
// view of views/portreqd/port_requests.json, one goroutine.
func BenchmarkMapAllPortRequests(b *testing.B) {
	d := benchDesign(b)
	docs := benchDocs(b, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, _, err := d.MapAll(docs[i%len(docs)]); err != nil {
			b.Fatal(err)
		}
	}
	report(b, cpu0)
}

// BenchmarkMapAllPortRequestsParallel does the same from GOMAXPROCS
// goroutines, each borrowing a runtime from the pool.
func BenchmarkMapAllPortRequestsParallel(b *testing.B) {
	d := benchDesign(b)
	docs := benchDocs(b, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, _, err := d.MapAll(docs[i%len(docs)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	report(b, cpu0)
}

// bigPortRequest is a port request as they grow in Kazoo: comments,
// transitions and a bill on top of the listed fields.
func bigPortRequest(i int) []byte {
	doc := map[string]any{
		"_id": fmt.Sprintf("big%06d", i), "_rev": "7-0123456789abcdef0123456789abcdef",
		"name": "Big port", "carrier": "PACIFIC BELL", "winning_carrier": "Telnyx",
		"bill":          map[string]any{"name": "Acme Corp", "street_address": "1600 Pennsylvania Ave", "locality": "Washington", "region": "DC", "postal_code": "20500", "account_number": "12345", "pin": "0000", "btn": "+12025550100"},
		"notifications": map[string]any{"email": map[string]any{"send_to": []string{"porting@acme.example", "noc@acme.example"}}},
		"pvt_type":      "port_request", "pvt_port_state": "submitted", "pvt_account_id": "8a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d",
		"pvt_tree":    []string{"1f2e3d4c5b6a79881f2e3d4c5b6a7988", "5e11e75e11e75e11e75e11e75e11e75e", "8a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d"},
		"pvt_created": 63720000000, "pvt_modified": 63720000500 + i, "pvt_vsn": "1",
		"_attachments": map[string]any{"form.pdf": map[string]any{"content_type": "application/pdf", "revpos": 2, "digest": "md5-2cbDJVbcDpc0KiHRL3H2Tw==", "length": 48213, "stub": true}},
	}
	numbers := map[string]any{}
	for n := 0; n < 8; n++ {
		numbers[fmt.Sprintf("+1202555%04d", n)] = map[string]any{"used_by": "callflow"}
	}
	doc["numbers"] = numbers
	var comments, transitions []any
	for n := 0; n < 12; n++ {
		comments = append(comments, map[string]any{"account_id": "8a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d", "user_id": "u1", "timestamp": 63720000000 + n, "content": "Customer called about the port; carrier asked for a new LOA with the right BTN.", "superduper_comment": n%3 == 0})
		transitions = append(transitions, map[string]any{"type": "transition", "timestamp": 63720000000 + n, "transition": map[string]any{"new": "pending", "previous": "submitted"}, "authorization": map[string]any{"account": map[string]any{"id": "8a2b4c6d8e0f1a3b5c7d9e1f3a5b7c9d", "name": "Acme"}, "user": map[string]any{"id": "u1", "first_name": "Ada", "last_name": "Lovelace"}}})
	}
	doc["comments"] = comments
	doc["pvt_transitions"] = transitions
	b, _ := json.Marshal(doc)
	return b
}

// BenchmarkMapAllBigPortRequests is BenchmarkMapAllPortRequests with
// documents of about 6 KB.
func BenchmarkMapAllBigPortRequests(b *testing.B) {
	d := benchDesign(b)
	docs := make([][]byte, 256)
	for i := range docs {
		docs[i] = bigPortRequest(i)
	}
	b.SetBytes(int64(len(docs[0])))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, _, err := d.MapAll(docs[i%len(docs)]); err != nil {
			b.Fatal(err)
		}
	}
	report(b, cpu0)
}
