package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// A real `go test -json` run of the fixture package is summed up: the
// failures' output kept, passing tests quiet, the totals at the end.
func TestSummarize(t *testing.T) {
	cmd := exec.Command("go", "test", "-count=1", "-json", "./testdata/sample")
	raw, _ := cmd.Output() // fails: the fixture has failing tests
	var out bytes.Buffer
	failed, err := summarize(bytes.NewReader(raw), &out)
	if err != nil {
		t.Fatal(err)
	}
	if !failed {
		t.Error("a run with failures summed up as passing")
	}
	got := out.String()
	for _, want := range []string{
		"the failure's own words", "a subtest fails",
		"FAIL\tgithub.com/portreqd/portreqd/test/testsummary/testdata/sample",
		"==> test totals: 2 passed, 3 failed, 1 skipped",
		"FAIL github.com/portreqd/portreqd/test/testsummary/testdata/sample TestParent/bad",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "quiet when passing") || strings.Contains(got, "=== RUN") {
		t.Errorf("a passing test's output is in the summary:\n%s", got)
	}
}

// A clean run passes; a build failure fails.
func TestSummarizeOutcome(t *testing.T) {
	for _, tt := range []struct {
		name, stream string
		failed       bool
	}{
		{"clean", `{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Output":"ok  \tp\t0.1s\n"}
{"Action":"pass","Package":"p"}`, false},
		{"build failure", `{"ImportPath":"p","Action":"build-output","Output":"p/x.go:1: syntax error\n"}
{"ImportPath":"p","Action":"build-fail"}
{"Action":"output","Package":"p","Output":"FAIL\tp [build failed]\n"}
{"Action":"fail","Package":"p"}`, true},
		{"a test cut off", `{"Action":"run","Package":"p","Test":"TestHangs"}
{"Action":"output","Package":"p","Test":"TestHangs","Output":"panic: test timed out\n"}`, true},
	} {
		var out bytes.Buffer
		failed, err := summarize(strings.NewReader(tt.stream), &out)
		if err != nil || failed != tt.failed {
			t.Errorf("%s: failed %v (%v), want %v\n%s", tt.name, failed, err, tt.failed, out.String())
		}
	}
}
