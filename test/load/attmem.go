package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// The attachment memory check (scenario attachment_8mb): one upload and
// the downloads of the largest attachment portreqd accepts, one at a time
// on an idle portreqd, each with portreqd's peak RSS reset just before it,
// so that the peak read after it is that transfer's own. It runs once per
// run (not per client count), before the rate scenarios, on a fresh
// portreqd. The target (the performance issue's): each transfer raises
// portreqd's peak RSS by less than attachLimitMB, that is, the body is
// streamed and never held whole, let alone as base64 and decoded copies
// together.
const (
	attachCheckName = "attachment_8mb"
	// attachRawBytes is the raw PDF by default (-attachment-bytes):
	// portreqd's default --max-upload-bytes, the largest body it accepts.
	attachRawBytes = 8_000_000
	// attachSmokeBytes is the raw PDF of a -smoke run: the paths are
	// exercised and verified, in a fraction of the time (pouchdb-server
	// takes over half a second per 8 MB upload).
	attachSmokeBytes = 1_000_000
	// attachMinBytes is the smallest -attachment-bytes (a PDF's skeleton
	// and a data URI of one fit).
	attachMinBytes = 10_000
	// attachLimitMB is the bound on the peak RSS rise per transfer.
	attachLimitMB = 16.0
	// attachSamplePeriod is how often VmRSS and RssAnon are sampled during
	// a transfer (VmHWM catches the peak of VmRSS between samples, not of
	// RssAnon).
	attachSamplePeriod = 5 * time.Millisecond
	dataURIPrefix      = "data:application/pdf;base64,"
)

// dataURIPDFBytes is the PDF inside the data URI of at most limit bytes:
// the upload limit bounds the whole body, the data-URI text, so the largest
// PDF whose "data:application/pdf;base64,…" fits. For 8,000,000 bytes:
// 5,999,979 bytes, encoded to 7,999,972 characters plus the 28-byte prefix.
func dataURIPDFBytes(limit int) int { return (limit - len(dataURIPrefix)) / 4 * 3 }

// attachCase is one measured transfer.
type attachCase struct {
	Name        string  `json:"case"`
	What        string  `json:"what"`  // the request: method, types, what was sent or received
	Bytes       int64   `json:"bytes"` // body bytes sent (upload) or received (download)
	Seconds     float64 `json:"seconds"`
	BaseRSSMB   float64 `json:"rss_at_reset_mb"`         // VmRSS right after the peak was reset
	PeakMB      float64 `json:"peak_rss_mb"`             // VmHWM after the transfer, or the largest sampled VmRSS if higher
	RiseMB      float64 `json:"peak_rise_mb"`            // PeakMB - BaseRSSMB: the transfer's cost
	BaseAnonMB  float64 `json:"anon_at_reset_mb"`        // RssAnon at the reset
	MaxAnonMB   float64 `json:"max_sampled_anon_mb"`     // the largest RssAnon sampled during the transfer
	AnonRiseMB  float64 `json:"anon_rise_mb"`            // MaxAnonMB - BaseAnonMB
	MaxFileMB   float64 `json:"max_sampled_file_mb"`     // the largest RssFile sampled (mapped file pages: bbolt's data file)
	MaxRSSMB    float64 `json:"max_sampled_rss_mb"`      // the largest VmRSS sampled (VmHWM is exact; this shows what sampling sees)
	AfterAnonMB float64 `json:"anon_after_mb"`           // RssAnon after the transfer
	Samples     int     `json:"samples"`                 // readings during the transfer
	Within      bool    `json:"within_limit"`            // RiseMB < attachLimitMB
	Profile     string  `json:"heap_profiles,omitempty"` // with -pprof: the heap profiles before and after
	Error       string  `json:"error,omitempty"`         // the transfer failed (memory figures are then partial)
	Unmeasured  string  `json:"not_measured,omitempty"`  // why there are no memory figures
	ContentType string  `json:"content_type,omitempty"`  // of the download's answer
	Verified    bool    `json:"body_verified,omitempty"` // the download's bytes were the expected ones (SHA-256)
	Stored      string  `json:"stored_as,omitempty"`     // for a download: how the attachment was uploaded
	Accept      string  `json:"accept,omitempty"`        // for a download: the Accept header sent
	Sent        string  `json:"content_type_sent,omitempty"`
}

// attachMemory is the check's result in the report.
type attachMemory struct {
	Bytes   int           `json:"raw_pdf_bytes"` // the raw PDF's size; the data URI's is at most that
	LimitMB float64       `json:"limit_mb"`
	Note    string        `json:"note"`
	Cases   []*attachCase `json:"cases"`
}

// exceeded counts the cases at or above the limit.
func (m *attachMemory) exceeded() int {
	n := 0
	for _, c := range m.Cases {
		if c.Unmeasured == "" && c.Error == "" && !c.Within {
			n++
		}
	}
	return n
}

// failed counts the transfers that failed.
func (m *attachMemory) failed() int {
	n := 0
	for _, c := range m.Cases {
		if c.Error != "" {
			n++
		}
	}
	return n
}

// pdfOfSize builds a PDF of exactly size bytes (buildPDF's size is
// approximate: its trailer's length depends on the numbers in it).
func pdfOfSize(size int) []byte {
	want := size
	for range 5 {
		b := buildPDF(want, rand.New(rand.NewPCG(7, uint64(size))))
		if len(b) == size {
			return b
		}
		want += size - len(b)
	}
	panic(fmt.Sprintf("load: cannot build a PDF of exactly %d bytes", size))
}

// checkAttachmentMemory runs the transfers on a fresh unconfirmed request
// of the work account. Without portreqd's pid (a portreqd this tool did
// not start) or off Linux, the transfers still run and are verified, with
// no memory figures.
func checkAttachmentMemory(ctx context.Context, e *env, pid int, stderr io.Writer) (*attachMemory, error) {
	fmt.Fprintf(stderr, "load: %s: one %d-byte PDF upload and its downloads, and a data-URI upload and its downloads, measuring portreqd's peak RSS around each\n",
		attachCheckName, e.cfg.attachBytes)
	ids, err := createRequests(ctx, e.api, e.seed.workAccount, e.seed.numbers, 1, "load attachment memory")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", attachCheckName, err)
	}
	base := "/v2/accounts/" + e.seed.workAccount + "/port_requests/" + ids[0] + "/attachments"
	raw := pdfOfSize(e.cfg.attachBytes)
	inner := pdfOfSize(dataURIPDFBytes(e.cfg.attachBytes))
	uri := make([]byte, 0, len(dataURIPrefix)+base64.StdEncoding.EncodedLen(len(inner)))
	uri = append(uri, dataURIPrefix...)
	uri = base64.StdEncoding.AppendEncode(uri, inner)
	rawAsURI := append([]byte(dataURIPrefix), base64.StdEncoding.EncodeToString(raw)...)

	m := &attachMemory{LimitMB: attachLimitMB, Note: fmt.Sprintf(
		"one transfer at a time on an idle portreqd, before the rate scenarios; before each, portreqd's peak RSS is reset "+
			"(echo 5 > /proc/<pid>/clear_refs resets VmHWM to the current VmRSS); rise = peak (VmHWM after the transfer, or the largest VmRSS sampled if higher) - VmRSS at the reset; "+
			"RssAnon (heap, stacks) and RssFile (mapped file pages, such as bbolt's data file) sampled every %s during it; target: rise < %.0f MB. "+
			"The raw PDF is %s bytes (-attachment-bytes; portreqd's --max-upload-bytes, default 8000000, bounds the body); the data URI is the whole body too, so it carries a %s-byte PDF "+
			"in %s bytes of text (Monster UI's form: Content-Type text/plain)%s",
		attachSamplePeriod, attachLimitMB, thousands(len(raw)), thousands(len(inner)), thousands(len(uri)), smallNote(len(raw)))}
	m.Bytes = len(raw)
	// Each download reads an attachment no earlier transfer read: the same
	// body is uploaded under a second name (not measured) for the second
	// download of each form, so that on the embedded store the pages of
	// bbolt's mapped data file a download touches are not resident yet.
	const pdfName, pdfCopy, uriName, uriCopy = "x.pdf", "x-copy.pdf", "datauri.pdf", "datauri-copy.pdf"
	type step struct {
		name, what           string
		stored, accept, sent string
		setup                bool // not measured: prepares a later case
		run                  func(ctx context.Context) (int64, string, bool, error)
	}
	upload := func(name, ct string, body []byte) func(ctx context.Context) (int64, string, bool, error) {
		return func(ctx context.Context) (int64, string, bool, error) {
			return int64(len(body)), "", false, e.uploadAttachment(ctx, http.MethodPut, base+"?filename="+name, ct, body)
		}
	}
	download := func(name, accept string, want []byte) func(ctx context.Context) (int64, string, bool, error) {
		return func(ctx context.Context) (int64, string, bool, error) {
			return e.downloadAttachment(ctx, base+"/"+name, accept, want)
		}
	}
	steps := []step{
		{name: "upload_pdf", sent: "application/pdf", run: upload(pdfName, "application/pdf", raw),
			what: fmt.Sprintf("PUT …/attachments?filename=%s, Content-Type application/pdf, the raw %s-byte PDF", pdfName, thousands(len(raw)))},
		{name: "upload_pdf_copy", setup: true, run: upload(pdfCopy, "application/pdf", raw)},
		{name: "download_pdf", stored: "raw PDF", accept: "application/pdf", run: download(pdfName, "application/pdf", raw),
			what: "GET …/attachments/" + pdfName + ", Accept: application/pdf: the stored bytes as they are"},
		{name: "download_pdf_as_data_uri", stored: "raw PDF", accept: "text/plain", run: download(pdfCopy, "text/plain", rawAsURI),
			what: "GET …/attachments/" + pdfCopy + " (the same PDF), Accept: text/plain: portreqd base64-encodes the raw PDF into a data URI (" + thousands(len(rawAsURI)) + " bytes)"},
		{name: "replace_pdf", sent: "application/pdf",
			what: "POST …/attachments/" + pdfName + ", Content-Type application/pdf, the same PDF again: replaces the stored body (the old one is freed in the same write)",
			run: func(ctx context.Context) (int64, string, bool, error) {
				return int64(len(raw)), "", false, e.uploadAttachment(ctx, http.MethodPost, base+"/"+pdfName, "application/pdf", raw)
			}},
		{name: "upload_data_uri", sent: "text/plain", run: upload(uriName, "text/plain", uri),
			what: fmt.Sprintf("PUT …/attachments?filename=%s, Content-Type text/plain, a data URI of %s bytes (data:application/pdf;base64, and a %s-byte PDF)",
				uriName, thousands(len(uri)), thousands(len(inner)))},
		{name: "upload_data_uri_copy", setup: true, run: upload(uriCopy, "text/plain", uri)},
		{name: "download_data_uri", stored: "data URI", accept: "text/plain", run: download(uriName, "text/plain", uri),
			what: "GET …/attachments/" + uriName + ", Accept: text/plain (Monster UI): the stored data URI as it is"},
		{name: "download_data_uri_as_pdf", stored: "data URI", accept: "application/pdf", run: download(uriCopy, "application/pdf", inner),
			what: "GET …/attachments/" + uriCopy + " (the same data URI), Accept: application/pdf: portreqd decodes the stored data URI (" + thousands(len(inner)) + " bytes)"},
	}
	for _, tc := range steps {
		if tc.setup {
			if _, _, _, err := tc.run(ctx); err != nil {
				return m, fmt.Errorf("%s: %s: %w", attachCheckName, tc.name, err)
			}
			continue
		}
		c := &attachCase{Name: tc.name, What: tc.what, Stored: tc.stored, Accept: tc.accept, Sent: tc.sent}
		m.Cases = append(m.Cases, c)
		var before, after string
		if e.pprofURL != "" {
			before = filepath.Join(e.cfg.pprofDir, attachCheckName+"-"+tc.name+".before.heap.pprof")
			after = filepath.Join(e.cfg.pprofDir, attachCheckName+"-"+tc.name+".after.heap.pprof")
			e.saveHeap(ctx, before, stderr)
		}
		stop, base0, why := watchPeak(pid)
		c.Unmeasured = why
		t0 := time.Now()
		n, ct, verified, err := tc.run(ctx)
		c.Seconds = time.Since(t0).Seconds()
		if stop != nil {
			p := stop()
			c.BaseRSSMB, c.BaseAnonMB = base0.rssMB, base0.anonMB
			// VmHWM misses a peak of file pages the kernel reclaimed
			// (hiwater is only updated when the process unmaps): the
			// largest sample stands in then.
			c.PeakMB = max(p.hwm, p.rss)
			c.RiseMB = c.PeakMB - base0.rssMB
			c.MaxAnonMB, c.AnonRiseMB, c.MaxFileMB, c.MaxRSSMB = p.anon, p.anon-base0.anonMB, p.file, p.rss
			c.AfterAnonMB, c.Samples = p.afterAnon, p.n
			c.Within = c.RiseMB < attachLimitMB
		}
		if after != "" {
			e.saveHeap(ctx, after, stderr)
			c.Profile = before + " " + after
		}
		c.Bytes, c.ContentType, c.Verified = n, ct, verified
		if err != nil {
			c.Error = err.Error()
			fmt.Fprintf(stderr, "load: %s %s: %v\n", attachCheckName, tc.name, err)
		}
		if ctx.Err() != nil {
			return m, ctx.Err()
		}
	}
	return m, nil
}

// uploadAttachment sends body as one attachment: PUT (a new one, 201) or
// POST (a replacement, 200).
func (e *env) uploadAttachment(ctx context.Context, method, path, contentType string, body []byte) error {
	req, err := e.api.newRequest(ctx, method, path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	want := http.StatusCreated
	if method == http.MethodPost {
		want = http.StatusOK
	}
	_, err = decode(e.client, req, want)
	return err
}

// downloadAttachment GETs an attachment with accept and checks that the
// answer is 200, of that type, and want byte for byte (by SHA-256, so
// that the answer is read as it streams in and never held).
func (e *env) downloadAttachment(ctx context.Context, path, accept string, want []byte) (int64, string, bool, error) {
	req, err := e.api.newRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return 0, "", false, err
	}
	req.Header.Set("Accept", accept)
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, "", false, err
	}
	defer resp.Body.Close()
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, ct, false, &statusError{resp.StatusCode, snippet(b)}
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		return n, ct, false, err
	}
	sum := sha256.Sum256(want)
	switch {
	case ct != accept:
		return n, ct, false, fmt.Errorf("Content-Type %q, want %q", ct, accept)
	case n != int64(len(want)) || !bytes.Equal(h.Sum(nil), sum[:]):
		return n, ct, false, fmt.Errorf("received %d bytes that differ from the %d expected", n, len(want))
	}
	return n, ct, true, nil
}

// peak is what watchPeak saw.
type peak struct {
	hwm             float64 // VmHWM at the end
	rss, anon, file float64 // the largest sampled VmRSS, RssAnon, RssFile
	afterAnon       float64
	n               int
}

// watchPeak resets pid's VmHWM, reads the VmRSS it was reset to, and
// samples until stop is called. It returns nil and the reason when it
// cannot measure.
func watchPeak(pid int) (stop func() peak, base rssSample, why string) {
	if pid == 0 {
		return nil, rssSample{}, "portreqd's process is not this tool's child (-portreqd)"
	}
	if err := resetPeak(pid); err != nil {
		return nil, rssSample{}, "cannot reset the peak RSS: " + err.Error()
	}
	base, err := readRSS(pid)
	if err != nil {
		return nil, rssSample{}, err.Error()
	}
	var (
		mu   sync.Mutex
		p    peak
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	take := func() {
		s, err := readRSS(pid)
		if err != nil {
			return
		}
		mu.Lock()
		p.rss, p.anon, p.file = max(p.rss, s.rssMB), max(p.anon, s.anonMB), max(p.file, s.fileMB)
		p.hwm, p.afterAnon = s.hwmMB, s.anonMB
		p.n++
		mu.Unlock()
	}
	take()
	wg.Go(func() {
		t := time.NewTicker(attachSamplePeriod)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				take()
			case <-done:
				return
			}
		}
	})
	return func() peak {
		close(done)
		wg.Wait()
		take()
		mu.Lock()
		defer mu.Unlock()
		return p
	}, base, ""
}

// resetPeak resets VmHWM of pid to its current VmRSS (Linux 4.0+).
func resetPeak(pid int) error {
	return os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0)
}

// saveHeap saves portreqd's heap profile (with -pprof).
func (e *env) saveHeap(ctx context.Context, file string, stderr io.Writer) {
	// gc=1: the profile is as of the last GC; without one, a transfer's
	// allocations would not show yet.
	e.savePprof(ctx, "/debug/pprof/heap?gc=1", file, 30*time.Second, stderr)
}

// savePprof saves portreqd's pprof answer at path into file; a failure is
// reported on stderr and costs the run nothing else.
func (e *env) savePprof(ctx context.Context, path, file string, timeout time.Duration, stderr io.Writer) {
	hc := &http.Client{Timeout: timeout}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.pprofURL+path, nil)
	if err != nil {
		return
	}
	resp, err := hc.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "load: pprof:", err)
		return
	}
	defer resp.Body.Close()
	if err := writeFile(file, resp.Body); err != nil {
		fmt.Fprintln(stderr, "load: pprof:", err)
	}
}

func writeFile(name string, r io.Reader) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

var attachHeader = []string{"case", "bytes", "seconds", "rss at reset MB", "peak MB", "rise MB", "anon at reset MB", "anon max MB", "anon rise MB", "file max MB", "within"}

// cells formats one case for the text and Markdown tables.
func (c *attachCase) cells(limit float64) []string {
	f := func(v float64) string {
		if v > -0.05 && v < 0.05 {
			v = 0 // no "-0.0"
		}
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	within := "-"
	switch {
	case c.Error != "":
		within = "failed"
	case c.Unmeasured != "":
		within = "not measured"
	case c.Within:
		within = fmt.Sprintf("yes (< %.0f)", limit)
	default:
		within = fmt.Sprintf("NO (≥ %.0f)", limit)
	}
	if c.Unmeasured != "" {
		return []string{c.Name, thousands(int(c.Bytes)), strconv.FormatFloat(c.Seconds, 'f', 2, 64), "-", "-", "-", "-", "-", "-", "-", within}
	}
	return []string{c.Name, thousands(int(c.Bytes)), strconv.FormatFloat(c.Seconds, 'f', 2, 64),
		f(c.BaseRSSMB), f(c.PeakMB), f(c.RiseMB), f(c.BaseAnonMB), f(c.MaxAnonMB), f(c.AnonRiseMB), f(c.MaxFileMB), within}
}

// attachLines are the check's notes: what each case sent, failures.
func (m *attachMemory) lines() []string {
	var out []string
	for _, c := range m.Cases {
		l := c.Name + ": " + c.What
		if c.Verified {
			l += "; body verified (SHA-256)"
		}
		if c.Error != "" {
			l += "; FAILED: " + c.Error
		}
		if c.Unmeasured != "" {
			l += "; not measured: " + c.Unmeasured
		}
		if c.Profile != "" {
			l += "; heap profiles: " + c.Profile
		}
		out = append(out, l)
	}
	return out
}

func (m *attachMemory) summary() string {
	worst := 0.0
	measured := 0
	for _, c := range m.Cases {
		if c.Unmeasured == "" && c.Error == "" {
			measured++
			worst = max(worst, c.RiseMB)
		}
	}
	if measured == 0 {
		return "attachment memory: not measured"
	}
	verdict := "all within"
	if n := m.exceeded(); n > 0 {
		verdict = fmt.Sprintf("%d of %d at or above", n, measured)
	}
	return fmt.Sprintf("attachment memory (%s, bodies of %s bytes): largest peak RSS rise of one transfer %.1f MB; %s the %.0f MB target%s",
		attachCheckName, thousands(m.Bytes), worst, verdict, m.LimitMB, smallNote(m.Bytes))
}

// smallNote warns that bodies smaller than 8 MB do not measure the target.
func smallNote(n int) string {
	if n >= attachRawBytes {
		return ""
	}
	return fmt.Sprintf(" (bodies smaller than the target's %s bytes: the rises say little about it)", thousands(attachRawBytes))
}

func printAttachMemory(w io.Writer, m *attachMemory) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, m.summary())
	fmt.Fprintln(w, m.Note)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, strings.Join(attachHeader, "\t")+"\t")
	for _, c := range m.Cases {
		fmt.Fprintln(tw, strings.Join(c.cells(m.LimitMB), "\t")+"\t")
	}
	_ = tw.Flush()
	for _, l := range m.lines() {
		fmt.Fprintln(w, "  "+l)
	}
}

// markdownAttachMemory writes the check's section, after the rate table
// (its summary line is among the run's bullets, see writeMarkdown).
func markdownAttachMemory(b *strings.Builder, m *attachMemory) {
	b.WriteString("\nAttachment memory (" + attachCheckName + ", once per run): " + m.Note + ".\n\n")
	b.WriteString("| " + strings.Join(attachHeader, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat(" --- |", 1) + strings.Repeat(" ---: |", len(attachHeader)-1) + "\n")
	for _, c := range m.Cases {
		b.WriteString("| " + strings.Join(c.cells(m.LimitMB), " | ") + " |\n")
	}
	b.WriteString("\n")
	for _, l := range m.lines() {
		b.WriteString("- " + strings.ReplaceAll(l, "|", `\|`) + "\n")
	}
}
