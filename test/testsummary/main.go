// Command testsummary reads `go test -json` on stdin and writes what a
// person wants from a long CI log: the plain `go test` lines (ok, FAIL and
// ? per package), the whole output of every test that failed, and at the
// end the totals, `N passed, N failed, N skipped`, with the failed tests
// named. It exits 1 when anything failed (a test, a package, a build).
//
//	go test -race -count=1 -json ./... | go run ./test/testsummary
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

func main() {
	failed, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

// summarize copies in's report to out as described above and tells
// whether anything failed.
func summarize(in io.Reader, out io.Writer) (bool, error) {
	var (
		buffered          = map[string][]string{} // package + test: output so far
		passed, skipped   int
		failedTests       []string
		failedPkgs        []string
		packages, noTests int
		anyFailed         bool
		sc                = bufio.NewScanner(in)
	)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(out, "%s\n", line) // not JSON: go's own messages
			continue
		}
		key := e.Package + "\x00" + e.Test
		switch {
		case e.Action == "build-output":
			fmt.Fprint(out, e.Output)
		case e.Action == "build-fail":
			anyFailed = true
		case e.Test == "" && e.Action == "output":
			// A package's own lines: keep the summary ones and whatever
			// the package printed outside any test (TestMain).
			o := e.Output
			if o == "PASS\n" || strings.HasPrefix(o, "=== ") || strings.HasPrefix(o, "--- ") {
				continue
			}
			fmt.Fprint(out, o)
		case e.Test == "" && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip"):
			packages++
			if e.Action == "fail" {
				anyFailed = true
				failedPkgs = append(failedPkgs, e.Package)
			}
			if e.Action == "skip" {
				noTests++
			}
		case e.Action == "output":
			if !strings.HasPrefix(e.Output, "=== ") { // -json's verbose markers; plain go test has none
				buffered[key] = append(buffered[key], e.Output)
			}
		case e.Action == "pass":
			passed++
			delete(buffered, key)
		case e.Action == "skip":
			skipped++
			delete(buffered, key)
		case e.Action == "fail":
			anyFailed = true
			failedTests = append(failedTests, e.Package+" "+e.Test)
			fmt.Fprint(out, strings.Join(buffered[key], ""))
			delete(buffered, key)
		}
	}
	if err := sc.Err(); err != nil {
		return true, err
	}
	// Tests still open when the stream ended (a panic, a timeout) failed.
	var open []string
	for key, lines := range buffered {
		pkg, test, _ := strings.Cut(key, "\x00")
		open = append(open, pkg+" "+test)
		fmt.Fprint(out, strings.Join(lines, ""))
	}
	sort.Strings(open)
	if len(open) > 0 {
		anyFailed = true
		failedTests = append(failedTests, open...)
	}

	fmt.Fprintf(out, "\n==> test totals: %d passed, %d failed, %d skipped (tests and subtests; %d packages, %d without tests, %d failed)\n",
		passed, len(failedTests), skipped, packages, noTests, len(failedPkgs))
	for _, t := range failedTests {
		fmt.Fprintln(out, "    FAIL", t)
	}
	for _, p := range failedPkgs {
		fmt.Fprintln(out, "    FAIL package", p)
	}
	return anyFailed, nil
}
