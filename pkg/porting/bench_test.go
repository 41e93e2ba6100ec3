package porting

import "testing"

func BenchmarkNormalizeNumber(b *testing.B) {
	inputs := []string{"+12025559000", "2025559000", "(202) 555-9000", "011442071234567", "+33142685300"}
	b.ReportAllocs()
	for b.Loop() {
		for _, in := range inputs {
			if _, ok := NormalizeNumber(in); !ok {
				b.Fatal(in)
			}
		}
	}
}

func BenchmarkCanTransition(b *testing.B) {
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for _, from := range States {
			for _, to := range States {
				if CanTransition(from, to, false) {
					n++
				}
			}
		}
	}
	_ = n
}
