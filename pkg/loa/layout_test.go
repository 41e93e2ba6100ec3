package loa

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/signintech/gopdf"
)

var update = flag.Bool("update", false, "rewrite testdata/*.json golden layouts")

func TestLayoutGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Input
	}{
		{"layout-2", example(2)},
		{"layout-60", example(60)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, filepath.Join("testdata", tc.name+".json"), goldenJSON(t, Layout(tc.in)))
		})
	}
}

// goldenJSON is indented JSON with each text, rule and image on one line,
// so a layout change reads as a short diff.
func goldenJSON(t *testing.T, doc Document) []byte {
	t.Helper()
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out = leafObject.ReplaceAllFunc(out, func(obj []byte) []byte {
		var b bytes.Buffer
		if err := json.Compact(&b, obj); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	})
	return append(out, '\n')
}

var leafObject = regexp.MustCompile(`\{[^{}\[\]]*\}`)

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/loa -run Golden -update)", err)
	}
	var g, w Document
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(w, g); d != "" {
		t.Errorf("%s differs (-want +got; rerun with -update if intended):\n%s", path, d)
	}
}

// TestLayoutLetterFitsOnePage: a request with every field filled in, a
// logo and a three-line provider address keeps the letter on page 1.
func TestLayoutLetterFitsOnePage(t *testing.T) {
	in := international()
	in.Provider.Logo = logoPNG(t, 192, 96, false)
	in.Provider.AddressLines = append(in.Provider.AddressLines, "United States")
	if doc := Layout(in); len(doc.Pages) != 2 {
		t.Errorf("%d pages, want the letter and Attachment A", len(doc.Pages))
	}
}

func TestLayoutPages(t *testing.T) {
	for _, tc := range []struct {
		numbers, pages int
	}{{0, 2}, {1, 2}, {2, 2}, {164, 2}, {165, 3}, {500, 5}} {
		in := example(tc.numbers)
		if tc.numbers == 0 {
			in.Numbers = nil
		}
		doc := Layout(in)
		if len(doc.Pages) != tc.pages {
			t.Errorf("%d numbers: %d pages, want %d", tc.numbers, len(doc.Pages), tc.pages)
		}
		listed := map[string]int{}
		for _, p := range doc.Pages[1:] {
			for _, tx := range p.Texts {
				if strings.HasPrefix(tx.Text, "+1") {
					listed[tx.Text]++
				}
			}
		}
		for _, n := range in.Numbers {
			if listed[n] != 1 {
				t.Errorf("%d numbers: %s listed %d times in Attachment A", tc.numbers, n, listed[n])
			}
		}
	}
}

// TestLayoutStaysInMargins lays out a request with long values everywhere
// and checks that every line, measured, stays inside its page's margins.
func TestLayoutStaysInMargins(t *testing.T) {
	in := international()
	long := strings.Repeat("Very Long Name ", 12)
	in.Provider.Name = long
	in.Provider.AddressLines = append(in.Provider.AddressLines, strings.Repeat("x", 200))
	in.Customer.Name = long
	in.Customer.StreetAddress = strings.Repeat("9", 150)
	in.Carrier = long
	in.RequestName = long
	in.Numbers = append(in.Numbers, "+999999999999999")
	in.Provider.Logo = logoPNG(t, 300, 60, false)
	doc := Layout(in)
	for i, p := range doc.Pages {
		for _, tx := range p.Texts {
			if w := textWidth(tx.Text, tx.Style, tx.Size); tx.X < margin-0.01 || tx.X+w > PageWidth-margin+0.01 {
				t.Errorf("page %d: %q spans %.2f..%.2f, outside the margins", i+1, tx.Text, tx.X, tx.X+w)
			}
			if tx.Y > footY || tx.Y < top {
				t.Errorf("page %d: %q at baseline %.2f, off the page body", i+1, tx.Text, tx.Y)
			}
		}
	}
}

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"  Zoë\tMüller \n":  "Zoë Müller",
		"株式会社":              "????",
		"a\x00b":            "a b",
		"Société  Générale": "Société Générale",
	} {
		if got := clean(in); got != want {
			t.Errorf("clean(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWidthsMatchGopdf pins the design choice that Layout measures text
// itself: its widths must equal what gopdf sets, or right-aligned text and
// wrapping would drift in the PDF.
func TestWidthsMatchGopdf(t *testing.T) {
	pdf := &gopdf.GoPdf{}
	pdf.Start(gopdf.Config{Unit: gopdf.UnitPT, PageSize: *gopdf.PageSizeLetter})
	for _, s := range []Style{Regular, Bold} {
		if err := pdf.AddTTFFontData(string(s), s.ttf()); err != nil {
			t.Fatal(err)
		}
	}
	pdf.AddPage()
	for _, st := range []Style{Regular, Bold} {
		for _, text := range []string{"Letter of Authorization", "Société Générale · Zoë Müller", "Page 12 of 13", "+12025559000", "\u201cCustomer\u201d – …"} {
			if err := pdf.SetFont(string(st), "", 10.5); err != nil {
				t.Fatal(err)
			}
			want, err := pdf.MeasureTextWidth(text)
			if err != nil {
				t.Fatal(err)
			}
			if got := textWidth(text, st, 10.5); diff(got, want) > 1e-9 {
				t.Errorf("%s %q: width %v, gopdf says %v", st, text, got, want)
			}
		}
	}
}

func diff(a, b float64) float64 {
	if a > b {
		return a - b
	}
	return b - a
}

func BenchmarkLayout(b *testing.B) {
	for _, n := range []int{1, 50, 500} {
		in := example(n)
		b.Run(itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Layout(in)
			}
		})
	}
}
