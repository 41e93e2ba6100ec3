package collate

import (
	"encoding/json"
	"strings"
	"testing"
)

// Typical view keys: [id-like string, name, "id"] and [number, "id"].
var benchPairs = []struct {
	name string
	a, b string
}{
	{"strings/differ-first", `["0123abcd4567ef89","Some Name","id"]`, `["0123abcd4567ef8a","Some Name","id"]`},
	{"strings/differ-last", `["0123abcd4567ef89","Some Name","id"]`, `["0123abcd4567ef89","Some Name","ie"]`},
	{"strings/case-only", `["0123abcd4567ef89","Some Name","id"]`, `["0123abcd4567ef89","some name","id"]`},
	{"strings/accented", `["0123abcd4567ef89","Zoë Müller","id"]`, `["0123abcd4567ef89","Zoe Muller","id"]`},
	{"number-id/differ-number", `[63851200000,"id"]`, `[63851200001,"id"]`},
	{"number-id/equal-number", `[63851200000,"0123abcd4567ef89"]`, `[63851200000,"0123abcd4567ef8a"]`},
	{"number-id/float", `[1.5,"id"]`, `[1.25,"id"]`},
}

func BenchmarkCompare(b *testing.B) {
	for _, p := range benchPairs {
		a, c := []byte(p.a), []byte(p.b)
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Compare(a, c)
			}
		})
	}
}

func BenchmarkCompareValues(b *testing.B) {
	dec := func(s string) any {
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			b.Fatal(err)
		}
		return v
	}
	for _, p := range benchPairs {
		a, c := dec(p.a), dec(p.b)
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				CompareValues(a, c)
			}
		})
	}
}

func BenchmarkKey(b *testing.B) {
	for _, p := range benchPairs {
		a := []byte(p.a)
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Key(a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
