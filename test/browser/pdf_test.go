package browser

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// minimalPDF returns a valid one-page PDF 1.4 showing text in Helvetica:
// a catalog, a page tree, one page, its content stream and a standard
// font, with an exact cross-reference table (pdf.js, which Monster UI
// renders the bill with, and poppler both read it).
func minimalPDF(text string) []byte {
	esc := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`).Replace(text)
	content := fmt.Sprintf("BT /F1 24 Tf 72 700 Td (%s) Tj ET", esc)
	objects := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objects))
	for i, obj := range objects {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, obj)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objects)+1, xref)
	return b.Bytes()
}

// writePDF writes minimalPDF(text) as dir/name and returns its path.
func writePDF(t *testing.T, dir, name, text string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, minimalPDF(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestMinimalPDF checks the hand-written PDF's cross-reference table and,
// where poppler's pdftotext is installed, that a real reader gets its text.
func TestMinimalPDF(t *testing.T) {
	const text = "Letter (of) authorization"
	pdf := minimalPDF(text)
	s := string(pdf)
	i := strings.LastIndex(s, "startxref\n")
	if i < 0 {
		t.Fatal("no startxref")
	}
	var xref int
	if _, err := fmt.Sscanf(s[i+len("startxref\n"):], "%d", &xref); err != nil || !strings.HasPrefix(s[xref:], "xref\n") {
		t.Fatalf("startxref %d does not point at the xref table (%v)", xref, err)
	}
	rows := strings.Split(s[xref:], "\n")[3:8] // after "xref", "0 6", the free entry
	for n, row := range rows {
		var off int
		if _, err := fmt.Sscanf(row, "%010d 00000 n", &off); err != nil {
			t.Fatalf("xref row %q: %v", row, err)
		}
		if want := fmt.Sprintf("%d 0 obj\n", n+1); !strings.HasPrefix(s[off:], want) {
			t.Errorf("xref entry %d points at %q, want %q", n+1, s[off:off+len(want)], want)
		}
	}
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Log("no pdftotext: reading it back skipped")
		return
	}
	path := writePDF(t, t.TempDir(), "t.pdf", text)
	out, err := exec.Command("pdftotext", path, "-").CombinedOutput()
	if err != nil || !strings.Contains(string(out), text) {
		t.Errorf("pdftotext: %v: %q", err, out)
	}
}
