package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/portreqd/portreqd/pkg/porting"
)

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark
// measures envelope encoding alone.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return io.Discard.Write(p) }
func (d *discardWriter) WriteHeader(int)             {}

func BenchmarkEnvelope(b *testing.B) {
	var row porting.Fields
	_ = json.Unmarshal([]byte(`{"id":"462da37f8be11e46161fb40bc71173a9","name":"Porting 202.555.9000","numbers":{"+12025559000":{}},
		"port_state":"unconfirmed","sent":false,"created":63630097779,"updated":63630097779,"uploads":{},
		"bill":{"name":"John Doe","locality":"San Francisco"},"_read_only":{"account_id":"009afc511c97b2ae693c6cc4920988e8"}}`), &row)
	page := make([]porting.Fields, 50)
	for i := range page {
		page[i] = row
	}
	r := httptest.NewRequest("GET", "/", nil)
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, &requestInfo{id: "abc", token: "tok"}))
	w := &discardWriter{h: http.Header{}}
	b.Run("one", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			writeReply(w, r, &reply{data: row, revision: "1-abc"})
		}
	})
	b.Run("page50", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			writeReply(w, r, &reply{data: page, paging: &paging{pageSize: 50}})
		}
	})
}

// BenchmarkEnvelopeStdlib is the baseline: the same page through
// encoding/json, as writeJSON did before appendData.
func BenchmarkEnvelopeStdlib(b *testing.B) {
	var row porting.Fields
	_ = json.Unmarshal([]byte(`{"id":"462da37f8be11e46161fb40bc71173a9","name":"Porting 202.555.9000","numbers":{"+12025559000":{}},
		"port_state":"unconfirmed","sent":false,"created":63630097779,"updated":63630097779,"uploads":{},
		"bill":{"name":"John Doe","locality":"San Francisco"},"_read_only":{"account_id":"009afc511c97b2ae693c6cc4920988e8"}}`), &row)
	page := make([]porting.Fields, 50)
	for i := range page {
		page[i] = row
	}
	b.ReportAllocs()
	for b.Loop() {
		enc := json.NewEncoder(io.Discard)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(envelope{AuthToken: "tok", Data: page, RequestID: "abc", Status: "success"})
	}
}
