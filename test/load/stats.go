package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// caveat is printed with every result: the numbers are only comparable
// within one run.
var caveat = fmt.Sprintf("caveat: the load generator, portreqd, the ceiling server and CouchDB (when used) share this machine's %d CPUs, "+
	"and small machines are noisy; compare the ratio columns "+
	"(portreqd's rate over the raw CouchDB request's, and over the trivial Go JSON handler's at the same client count, measured minutes apart at most), "+
	"not absolute rates across runs", runtime.NumCPU())

func machineLine() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("machine: %d CPUs (runtime.NumCPU), %s, %s/%s, %s, host %s",
		runtime.NumCPU(), cpuModel(), runtime.GOOS, runtime.GOARCH, runtime.Version(), host)
}

// cpuModel is the first "model name" of /proc/cpuinfo, or "CPU model unknown".
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "CPU model unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return "CPU model unknown"
}

// report is one run: what was measured where, and the rows.
type report struct {
	Command  string    `json:"command"`
	Machine  string    `json:"machine"`
	Caveat   string    `json:"caveat"`
	Store    string    `json:"store"`
	Requests int       `json:"requests_seeded"`
	Seed     []string  `json:"seed"`
	Started  time.Time `json:"started"`
	Memory   *memory   `json:"memory,omitempty"`
	// Attachments is the attachment memory check (attachment_8mb).
	Attachments *attachMemory `json:"attachment_memory,omitempty"`
	Noise       string        `json:"noise,omitempty"`
	Error       string        `json:"error,omitempty"` // the run failed; the rows are those done
	Rows        []*result     `json:"rows"`
}

// result is one table row.
type result struct {
	Scenario        string   `json:"scenario"`
	Clients         int      `json:"clients"`
	Requests        int      `json:"requests"`
	Errors          int      `json:"errors"`
	WarmupErrors    int      `json:"warmup_errors,omitempty"`
	Seconds         float64  `json:"seconds"`
	Rate            float64  `json:"rate"` // successful requests per second
	P50ms           float64  `json:"p50_ms"`
	P99ms           float64  `json:"p99_ms"`
	Baseline        string   `json:"baseline,omitempty"`
	BaselineRate    float64  `json:"baseline_rate,omitempty"`
	Ratio           float64  `json:"ratio,omitempty"`
	VsCeiling       float64  `json:"vs_ceiling,omitempty"` // rate / trivial_json rate at the same client count
	RSSMB           float64  `json:"rss_mb,omitempty"`     // portreqd's largest VmRSS sampled during the run
	AnonMB          float64  `json:"anon_mb,omitempty"`    // its largest RssAnon sampled during the run
	HWMMB           float64  `json:"peak_rss_mb,omitempty"`
	OthersCPU       float64  `json:"others_cpu"`                           // CPUs used by processes outside the run during it
	Sent            int      `json:"sent"`                                 // requests sent, warmup included
	CouchPerRequest float64  `json:"couch_requests_per_request,omitempty"` // with -count-couch
	Notes           []string `json:"notes,omitempty"`
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

var tableHeader = []string{"scenario", "clients", "requests", "errors", "rate (req/s)", "p50 (ms)", "p99 (ms)",
	"baseline", "baseline rate", "ratio", "vs ceiling", "rss (anon) MB"}

// cells formats one row for both the text and the Markdown table.
func (r *result) cells() []string {
	base, brate, ratio, ceil, rss := "-", "-", "-", "-", "-"
	if r.Baseline != "" {
		base, brate = r.Baseline, strconv.FormatFloat(r.BaselineRate, 'f', 1, 64)
		ratio = strconv.FormatFloat(r.Ratio, 'f', 2, 64)
	}
	if r.VsCeiling > 0 {
		ceil = strconv.FormatFloat(r.VsCeiling, 'f', 2, 64)
	}
	if r.RSSMB > 0 {
		rss = fmt.Sprintf("%.0f (%.0f)", r.RSSMB, r.AnonMB)
	}
	return []string{r.Scenario, strconv.Itoa(r.Clients), strconv.Itoa(r.Requests), strconv.Itoa(r.Errors),
		strconv.FormatFloat(r.Rate, 'f', 1, 64), strconv.FormatFloat(r.P50ms, 'f', 2, 64), strconv.FormatFloat(r.P99ms, 'f', 2, 64),
		base, brate, ratio, ceil, rss}
}

func printTable(w io.Writer, rep *report) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(tableHeader, "\t")+"\t")
	for _, r := range rep.Rows {
		fmt.Fprintln(tw, strings.Join(r.cells(), "\t")+"\t")
	}
	_ = tw.Flush()
	if notes := rowNotes(rep.Rows); len(notes) > 0 {
		fmt.Fprintln(w, "\nnotes:")
		for _, n := range notes {
			fmt.Fprintln(w, "  "+n)
		}
	}
	if rep.Attachments != nil {
		printAttachMemory(w, rep.Attachments)
	}
	fmt.Fprintln(w)
	if rep.Memory != nil {
		fmt.Fprintln(w, memoryLine(rep.Memory))
	}
	if rep.Noise != "" {
		fmt.Fprintln(w, rep.Noise)
	}
	fmt.Fprintln(w, rep.Machine)
	fmt.Fprintln(w, rep.Caveat)
}

// rowNotes lists every row's notes as "scenario/clients: note", a note
// shared by every client count of a scenario once as "scenario: note".
func rowNotes(rows []*result) []string {
	count := map[string]int{}
	runs := map[string]int{}
	for _, r := range rows {
		runs[r.Scenario]++
		for _, n := range r.Notes {
			count[r.Scenario+"\x00"+n]++
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, r := range rows {
		for _, n := range r.Notes {
			k := r.Scenario + "\x00" + n
			if count[k] == runs[r.Scenario] && runs[r.Scenario] > 1 {
				if !seen[k] {
					seen[k] = true
					out = append(out, r.Scenario+": "+n)
				}
				continue
			}
			out = append(out, fmt.Sprintf("%s/%d: %s", r.Scenario, r.Clients, n))
		}
	}
	return out
}

func writeJSON(path string, rep *report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// markdownTitle starts a BENCHMARKS.md the tool creates.
const markdownTitle = `# Benchmarks

Generated by the load tool (` + "`test/load`" + `); do not edit by hand: rerun the
command above each table (` + "`-markdown FILE`" + ` replaces the file,
` + "`-markdown-append FILE`" + ` adds a section). Each section is one run: portreqd
started by the tool on a freshly seeded store, every scenario measured at each
client count after a warm-up, next to its baselines measured minutes apart at
most. **ratio** is portreqd's rate over its baseline's (on CouchDB: the raw
CouchDB request the scenario needs, same documents, same query; on the
embedded store there is no raw store to ask, and the baseline is the ceiling);
**vs ceiling** is the rate over that of ` + "`trivial_json`" + `, a Go handler
answering ` + "`{\"status\":\"ok\"}`" + ` from a separate process, driven by the same
client at the same client count: what one HTTP round trip costs here at all.
**rss (anon)** is portreqd's largest resident set sampled during the run, and
in parentheses its anonymous part (heap, stacks; the rest is pages of mapped
files, such as the embedded store's data file, which the kernel can drop).
**Attachment memory** (` + "`" + attachCheckName + "`" + `, once per run, before the rates):
portreqd's peak RSS rise around each single upload or download of the
largest attachment it accepts, raw and as a data URI, its peak RSS reset
just before each.
`

// writeMarkdown writes rep as a Markdown section: to a new file with the
// title, or appended to an existing one.
func writeMarkdown(path string, rep *report, appendTo bool) error {
	var b strings.Builder
	if appendTo {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			b.WriteString(markdownTitle)
		} else if err != nil {
			return err
		}
	} else {
		b.WriteString(markdownTitle)
	}
	b.WriteString("\n## " + sectionTitle(rep) + "\n\n")
	b.WriteString("```sh\n" + rep.Command + "\n```\n\n")
	b.WriteString("- run: " + rep.Started.Format(time.RFC3339) + "\n")
	b.WriteString("- " + rep.Machine + "\n")
	b.WriteString("- " + rep.Store + "\n")
	for _, s := range rep.Seed {
		b.WriteString("- seed: " + s + "\n")
	}
	if rep.Memory != nil {
		b.WriteString("- " + memoryLine(rep.Memory) + "\n")
	}
	if rep.Attachments != nil {
		b.WriteString("- " + rep.Attachments.summary() + "\n")
	}
	if rep.Noise != "" {
		b.WriteString("- " + rep.Noise + "\n")
	}
	b.WriteString("- " + rep.Caveat + "\n\n")
	b.WriteString("| " + strings.Join(tableHeader, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat(" --- |", 1) + strings.Repeat(" ---: |", len(tableHeader)-1) + "\n")
	for _, r := range rep.Rows {
		b.WriteString("| " + strings.Join(r.cells(), " | ") + " |\n")
	}
	if notes := rowNotes(rep.Rows); len(notes) > 0 {
		b.WriteString("\nNotes:\n\n")
		for _, n := range notes {
			b.WriteString("- " + strings.ReplaceAll(n, "|", `\|`) + "\n")
		}
	}
	if rep.Attachments != nil {
		markdownAttachMemory(&b, rep.Attachments)
	}
	flag := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendTo {
		flag = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func sectionTitle(rep *report) string {
	store := "embedded store"
	if strings.Contains(rep.Store, "CouchDB") {
		store = "CouchDB store"
		switch {
		case strings.Contains(rep.Store, "pouchdb-server"):
			store = "CouchDB store (pouchdb-server)"
		case strings.Contains(rep.Store, "Apache Software Foundation"):
			store = "CouchDB store (Apache CouchDB " + couchVersion(rep.Store) + ")"
		}
	}
	return fmt.Sprintf("%s, %s port requests", store, thousands(rep.Requests))
}

// couchVersion is the version in a store line "CouchDB API of <vendor>
// <version> at …".
func couchVersion(store string) string {
	_, rest, ok := strings.Cut(store, "Apache Software Foundation ")
	if !ok {
		return "?"
	}
	v, _, _ := strings.Cut(rest, " ")
	return v
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// noiseLine sums up the CPU other processes took during the runs.
func noiseLine(rows []*result, ours string) string {
	var sum, top float64
	var worst string
	noisy := 0
	for _, r := range rows {
		sum += r.OthersCPU
		if r.OthersCPU > top {
			top, worst = r.OthersCPU, fmt.Sprintf("%s/%d", r.Scenario, r.Clients)
		}
		if r.OthersCPU >= noisyCPU {
			noisy++
		}
	}
	if len(rows) == 0 {
		return ""
	}
	return fmt.Sprintf("other processes on the machine (all but %s) used on average %.2f CPU of %d during the runs, at most %.2f (%s); %d of %d runs at or above %.2f CPU are flagged noisy in the notes",
		ours, sum/float64(len(rows)), runtime.NumCPU(), top, worst, noisy, len(rows), noisyCPU)
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
