package doctest

import (
	"fmt"
	"regexp"
	"strings"
)

// cellSep is a pipe that separates table cells: one not escaped with a
// backslash. GitHub's tables split on a bare pipe even inside `code`.
var cellSep = regexp.MustCompile(`(^|[^\\])\|`)

// delimiterRow is a table's second line: | --- | :--: | …
var delimiterRow = regexp.MustCompile(`^\|(\s*:?-+:?\s*\|)+\s*$`)

// CheckTables reports the tables of a Markdown document that would not
// render as tables: a run of lines starting with "|" whose second line is
// not a delimiter row (a table cut by a blank line renders its rest as
// text), or a row with more or fewer cells than its header (an unescaped
// pipe inside a cell, such as {state:a|b}).
func CheckTables(doc string) []error {
	var errs []error
	lines := strings.Split(doc, "\n")
	inFence := false
	for i := 0; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "```") {
			inFence = !inFence
			continue
		}
		if inFence || !strings.HasPrefix(lines[i], "|") {
			continue
		}
		start := i
		header := cells(lines[i])
		if i+1 >= len(lines) || !delimiterRow.MatchString(strings.TrimSpace(lines[i+1])) {
			errs = append(errs, fmt.Errorf("line %d: table row without a header and delimiter row above it (renders as text): %.60s", i+1, lines[i]))
		}
		for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "|") {
			i++
			if i == start+1 {
				continue
			}
			if n := cells(lines[i]); n != header {
				errs = append(errs, fmt.Errorf("line %d: %d cells where the header has %d (escape | inside a cell as \\|): %.60s", i+1, n, header, lines[i]))
			}
		}
	}
	return errs
}

// cells counts a row's cells.
func cells(row string) int {
	row = strings.TrimSpace(row)
	return len(cellSep.FindAllStringIndex(row, -1)) - 1
}
