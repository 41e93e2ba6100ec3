package main

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseFlagsScenarios(t *testing.T) {
	tests := []struct {
		name        string
		args        []string
		scenarios   []string // nil: do not check
		attachCheck bool
		attachBytes int // 0: the default
		wantErr     string
	}{
		{name: "default runs every scenario and the attachment check",
			args: nil, scenarios: scenarioNames, attachCheck: true},
		{name: "smoke too",
			args: []string{"-smoke"}, scenarios: scenarioNames, attachCheck: true, attachBytes: attachSmokeBytes},
		{name: "smoke with 8 MB bodies",
			args: []string{"-smoke", "-attachment-bytes", "8000000"}, scenarios: scenarioNames, attachCheck: true, attachBytes: attachRawBytes},
		{name: "attachment bytes too small",
			args: []string{"-attachment-bytes", "100"}, wantErr: "-attachment-bytes must be at least"},
		{name: "the check alone: no rate scenario",
			args: []string{"-scenarios", attachCheckName}, scenarios: []string{}, attachCheck: true},
		{name: "mixed alone: no check",
			args: []string{"-scenarios", "mixed"}, scenarios: []string{"mixed"}},
		{name: "table order, whatever the order given",
			args: []string{"-scenarios", "mixed," + attachCheckName + ",get_request"}, scenarios: []string{"get_request", "mixed"}, attachCheck: true},
		{name: "upload_1mb does not imply the check",
			args: []string{"-scenarios", "upload_1mb"}, scenarios: []string{"upload_1mb"}},
		{name: "unknown",
			args: []string{"-scenarios", "nope"}, wantErr: "unknown scenario"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseFlags(tt.args, func(string) string { return "" }, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.scenarios, tt.scenarios) {
				t.Errorf("scenarios %v, want %v", c.scenarios, tt.scenarios)
			}
			if want := cmp.Or(tt.attachBytes, attachRawBytes); c.attachBytes != want {
				t.Errorf("attachBytes %d, want %d", c.attachBytes, want)
			}
			if c.attachCheck != tt.attachCheck {
				t.Errorf("attachCheck %v, want %v", c.attachCheck, tt.attachCheck)
			}
		})
	}
}

// The check sends the largest bodies portreqd's limit accepts.
func TestAttachmentSizes(t *testing.T) {
	for _, limit := range []int{attachRawBytes, attachSmokeBytes, attachMinBytes, 1_000_001, 1_000_002, 1_000_003} {
		for _, size := range []int{limit, dataURIPDFBytes(limit)} {
			b := pdfOfSize(size)
			if len(b) != size || !bytes.HasPrefix(b, []byte("%PDF-")) {
				t.Errorf("pdfOfSize(%d): %d bytes, starts %q", size, len(b), b[:8])
			}
		}
		uri := len(dataURIPrefix) + base64.StdEncoding.EncodedLen(dataURIPDFBytes(limit))
		if uri > limit || uri+4 <= limit {
			t.Errorf("data URI of a %d-byte PDF: %d bytes, want the largest that fits in %d", dataURIPDFBytes(limit), uri, limit)
		}
	}
	if got := dataURIPDFBytes(attachRawBytes); got != 5_999_979 {
		t.Errorf("PDF in an 8,000,000-byte data URI: %d bytes, want 5,999,979", got)
	}
}

func TestMixedParts(t *testing.T) {
	main, _, _ := scenarios()
	total := 0
	for _, p := range mixedParts {
		total += p.weight
		if main[p.name] == nil {
			t.Errorf("mixed part %q is no scenario", p.name)
		}
	}
	if total != 100 {
		t.Errorf("weights sum to %d, want 100 (they are documented as percent)", total)
	}
}

func TestAttachmentReport(t *testing.T) {
	m := &attachMemory{Bytes: attachRawBytes, LimitMB: attachLimitMB, Note: "how", Cases: []*attachCase{
		{Name: "upload_pdf", What: "PUT", Bytes: attachRawBytes, BaseRSSMB: 20, PeakMB: 29, RiseMB: 9, Within: true},
		{Name: "download_pdf", What: "GET", Bytes: attachRawBytes, BaseRSSMB: 20, PeakMB: 40, RiseMB: 20, Verified: true},
		{Name: "download_data_uri", What: "GET", Error: "HTTP 500: boom"},
	}}
	if got := m.exceeded(); got != 1 {
		t.Errorf("exceeded %d, want 1", got)
	}
	if got := m.failed(); got != 1 {
		t.Errorf("failed %d, want 1", got)
	}
	rep := &report{Command: "go run ./test/load", Started: time.Now(), Store: "store: embedded", Attachments: m,
		Rows: []*result{{Scenario: ceilingName, Clients: 1, Requests: 1}}}
	var text bytes.Buffer
	printTable(&text, rep)
	md := filepath.Join(t.TempDir(), "b.md")
	if err := writeMarkdown(md, rep, false); err != nil {
		t.Fatal(err)
	}
	mdText, _ := os.ReadFile(md)
	for name, out := range map[string]string{"text": text.String(), "markdown": string(mdText)} {
		for _, want := range []string{
			"bodies of 8,000,000 bytes): largest peak RSS rise of one transfer 20.0 MB; 1 of 2 at or above the 16 MB target",
			"upload_pdf", "yes (< 16)", "NO (≥ 16)", "failed", "FAILED: HTTP 500: boom", "body verified",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%s report lacks %q:\n%s", name, want, out)
			}
		}
	}
}
