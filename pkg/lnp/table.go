package lnp

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Table answers from the operator's table of number blocks: rows of
// prefix (NPA-NXX, or a longer block such as NPA-NXX-X, digits only, no
// country code), the losing carrier, the carriers that can take numbers of
// the block and the documents a port needs (both separated by ";"). The
// longest prefix matching a number wins.
type Table struct {
	rows    map[string]Result
	longest int
}

// LoadTable reads a table file (CSV with a header row: prefix,
// losing_carrier, carriers, documents).
func LoadTable(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := ReadTable(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// ReadTable reads a table from CSV.
func ReadTable(r io.Reader) (*Table, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	want := []string{"prefix", "losing_carrier", "carriers", "documents"}
	if len(header) != len(want) {
		return nil, fmt.Errorf("header %q: want %q", header, want)
	}
	for i := range want {
		if strings.TrimSpace(header[i]) != want[i] {
			return nil, fmt.Errorf("header %q: want %q", header, want)
		}
	}
	t := &Table{rows: map[string]Result{}}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		prefix := strings.TrimSpace(rec[0])
		if len(prefix) < 3 || len(prefix) > 10 || strings.Trim(prefix, "0123456789") != "" {
			return nil, fmt.Errorf("line %d: prefix %q: want 3 to 10 digits", line, prefix)
		}
		losing := strings.TrimSpace(rec[1])
		if losing == "" {
			return nil, fmt.Errorf("line %d: no losing carrier", line)
		}
		if _, dup := t.rows[prefix]; dup {
			return nil, fmt.Errorf("line %d: prefix %s listed twice", line, prefix)
		}
		t.rows[prefix] = Result{LosingCarrier: losing, Carriers: list(rec[2]), Documents: list(rec[3]), Source: "table"}
		t.longest = max(t.longest, len(prefix))
	}
	return t, nil
}

func list(field string) []string {
	out := []string{}
	for _, p := range strings.Split(field, ";") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Len is the number of blocks in the table.
func (t *Table) Len() int { return len(t.rows) }

// Lookup answers the numbers of a block in the table.
func (t *Table) Lookup(_ context.Context, numbers []string) (map[string]Result, error) {
	out := map[string]Result{}
	for _, n := range numbers {
		d := strings.TrimPrefix(n, "+1")
		for l := min(t.longest, len(d)); l >= 3; l-- {
			if r, ok := t.rows[d[:l]]; ok {
				out[n] = r
				break
			}
		}
	}
	return out, nil
}
