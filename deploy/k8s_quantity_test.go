package deploy

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// quantityBytes reads a Kubernetes memory quantity ("256Mi", "1G", "1000").
func quantityBytes(q string) (int64, error) {
	return withSuffix(q, []suffix{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
		{"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}})
}

// goMemLimitBytes reads GOMEMLIMIT as the Go runtime does ("200MiB", "1GiB",
// "1000B", "1000").
func goMemLimitBytes(v string) (int64, error) {
	return withSuffix(v, []suffix{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"B", 1}})
}

type suffix struct {
	text string
	unit int64
}

func withSuffix(v string, suffixes []suffix) (int64, error) {
	unit := int64(1)
	for _, s := range suffixes {
		if n, ok := strings.CutSuffix(v, s.text); ok {
			v, unit = n, s.unit
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("not a byte quantity: %q", v)
	}
	return n * unit, nil
}

func TestQuantities(t *testing.T) {
	for _, tc := range []struct {
		in      string
		parse   func(string) (int64, error)
		want    int64
		wantErr bool
	}{
		{"256Mi", quantityBytes, 256 << 20, false},
		{"1G", quantityBytes, 1e9, false},
		{"1000", quantityBytes, 1000, false},
		{"lots", quantityBytes, 0, true},
		{"200MiB", goMemLimitBytes, 200 << 20, false},
		{"1000B", goMemLimitBytes, 1000, false},
		{"1000", goMemLimitBytes, 1000, false},
		{"200Mi", goMemLimitBytes, 0, true}, // the runtime wants MiB
	} {
		got, err := tc.parse(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("%q: %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}
