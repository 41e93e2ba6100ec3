package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"
)

// caveat is printed with every result: the numbers are only comparable
// within one run.
const caveat = "caveat: the load generator, portreqd and CouchDB share this machine's CPUs, and small machines are noisy; " +
	"compare the ratio column (portreqd rate / raw CouchDB rate, measured back to back), not absolute rates across runs"

func machineLine() string {
	return fmt.Sprintf("machine: %d CPUs (runtime.NumCPU), %s/%s, %s", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
}

// result is one table row (and one JSON array element).
type result struct {
	Scenario     string   `json:"scenario"`
	Clients      int      `json:"clients"`
	Requests     int      `json:"requests"`
	Errors       int      `json:"errors"`
	WarmupErrors int      `json:"warmup_errors,omitempty"`
	Seconds      float64  `json:"seconds"`
	Rate         float64  `json:"rate"` // successful requests per second
	P50ms        float64  `json:"p50_ms"`
	P99ms        float64  `json:"p99_ms"`
	Baseline     string   `json:"baseline,omitempty"`
	BaselineRate float64  `json:"baseline_rate,omitempty"`
	Ratio        float64  `json:"ratio,omitempty"`
	Notes        []string `json:"notes,omitempty"`
}

// summarize turns one run's latencies into a row. The rate counts
// successful requests only, so that fast failures cannot inflate it, over
// the time from the end of the warmup to the last measured answer.
func summarize(name string, clients int, lat []time.Duration, errs int, t0, last time.Time) *result {
	r := &result{Scenario: name, Clients: clients, Requests: len(lat), Errors: errs}
	if len(lat) == 0 {
		return r
	}
	slices.Sort(lat)
	r.P50ms = ms(percentile(lat, 0.50))
	r.P99ms = ms(percentile(lat, 0.99))
	if el := last.Sub(t0); el > 0 {
		r.Seconds = el.Seconds()
		r.Rate = float64(len(lat)-errs) / el.Seconds()
	}
	return r
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, q float64) time.Duration {
	i := int(float64(len(sorted))*q+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func printTable(w io.Writer, rows []*result) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tclients\trequests\terrors\trate (req/s)\tp50 (ms)\tp99 (ms)\tbaseline scenario\tbaseline rate\tratio\t")
	for _, r := range rows {
		base, brate, ratio := "-", "-", "-"
		if r.Baseline != "" {
			base, brate = r.Baseline, strconv.FormatFloat(r.BaselineRate, 'f', 1, 64)
			ratio = strconv.FormatFloat(r.Ratio, 'f', 2, 64)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f\t%.2f\t%.2f\t%s\t%s\t%s\t\n",
			r.Scenario, r.Clients, r.Requests, r.Errors, r.Rate, r.P50ms, r.P99ms, base, brate, ratio)
	}
	_ = tw.Flush()
	first := true
	for _, r := range rows {
		for _, n := range r.Notes {
			if first {
				fmt.Fprintln(w, "\nnotes:")
				first = false
			}
			fmt.Fprintf(w, "  %s/%d: %s\n", r.Scenario, r.Clients, n)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, machineLine())
	fmt.Fprintln(w, caveat)
}

func writeJSON(path string, rows []*result) error {
	b, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// totalErrors counts every failed request, warmup included: CI must fail on
// any of them.
func totalErrors(rows []*result) int {
	n := 0
	for _, r := range rows {
		n += r.Errors + r.WarmupErrors
	}
	return n
}
