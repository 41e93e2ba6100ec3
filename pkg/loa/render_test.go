package loa

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/jpeg"
	stdpng "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
)

var writeExample = flag.Bool("example", false, "rewrite docs/loa-example.png (needs pdftoppm)")

// tool returns the path of a poppler-utils program. Without it the test is
// skipped locally but fails in CI (CI=true), where .ci/run installs it.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found: .ci/run must install poppler-utils", name)
		}
		t.Skipf("%s not found; install poppler-utils (apt-get install -y poppler-utils) to read the PDF back", name)
	}
	return p
}

func render(t *testing.T, in Input) string {
	t.Helper()
	pdf, err := Render(in)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "loa.pdf")
	if err := os.WriteFile(path, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(tool(t, name), args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return string(out)
}

// pages extracts the text of each page (pdftotext separates pages with form
// feeds) with runs of blanks collapsed, since -layout pads columns.
func pages(t *testing.T, path string) []string {
	t.Helper()
	raw := strings.Split(run(t, "pdftotext", "-layout", "-enc", "UTF-8", path, "-"), "\f")
	raw = raw[:len(raw)-1] // after the last form feed
	for i, p := range raw {
		raw[i] = strings.Join(strings.Fields(p), " ")
	}
	return raw
}

func contains(t *testing.T, where, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q", where, w)
		}
	}
}

func TestRenderExampleText(t *testing.T) {
	t.Parallel()
	in := example(3)
	pg := pages(t, render(t, in))
	if len(pg) != 2 {
		t.Fatalf("%d pages, want 2", len(pg))
	}
	contains(t, "page 1", pg[0],
		"Letter of Authorization", "Date: May 10, 2016 Reference: "+in.Reference(),
		"Bayview Voice Networks", "500 Howard Street, Suite 300", "San Francisco, CA 94105",
		"porting@bayviewvoice.example · +1 415 555 0199",
		"Natoma Dental Group (the “Customer”) hereby appoints Bayview Voice Networks as its agent to port the 3 telephone numbers",
		"from PACIFIC BELL, the losing carrier",
		"Request: Porting 202.555.9000", "Losing carrier: PACIFIC BELL",
		"Billing telephone number (BTN): +14155550100", "Account number: 1234-5678",
		"PIN: provided", "Numbers to port: 3 telephone numbers, listed in Attachment A",
		"Account name: Natoma Dental Group", "Name on bill: John Doe", "Street address: 116 Natoma Street",
		"City / locality: San Francisco", "State / region: CA", "Postal code: 94105",
		"Authorized signer", "Name (print) Title", "Signature Date", "Page 1 of 2")
	if strings.Contains(pg[0], "Extended address") {
		t.Error("an empty extended address is printed")
	}
	contains(t, "page 2", pg[1], "Attachment A: numbers to be ported", "Numbers 1–3 of 3 · Porting 202.555.9000",
		"1 +12025559000 2 +12025559001 3 +12025559002", "Page 2 of 2")

	// Every run of digits printed must come from the input: nothing else
	// (a PIN above all) may leak into the letter.
	p, c := in.Provider, in.Customer
	given := strings.Join(append([]string{in.Reference(), in.Date.Format("January 2, 2006"), in.RequestName,
		p.Name, strings.Join(p.AddressLines, " "), p.Email, p.Phone, c.AccountName, c.Name, c.StreetAddress,
		c.ExtendedAddress, c.Locality, c.Region, c.PostalCode, in.Carrier, in.BTN, in.AccountNumber}, in.Numbers...), " ")
	for _, p := range pg {
		for _, d := range regexp.MustCompile(`[0-9][0-9-]{3,}`).FindAllString(p, -1) {
			if !strings.Contains(given, d) {
				t.Errorf("printed digits %q come from nowhere in the input", d)
			}
		}
	}
}

func TestRenderNonASCII(t *testing.T) {
	t.Parallel()
	path := render(t, international())
	text := strings.Join(pages(t, path), "\n")
	contains(t, "text", text, "Télécom Québec Inc.", "Société Générale (the “Customer”) hereby appoints Télécom Québec Inc.",
		"Name on bill: Zoë Müller", "Street address: Bahnhofstraße 12", "Extended address: Étage 3, Bâtiment Ä",
		"City / locality: Zürich", "PIN: not provided")
	// Both faces are embedded (subset) TrueType, so no viewer substitutes a
	// font lacking these letters.
	fonts := strings.Split(strings.TrimSpace(run(t, "pdffonts", path)), "\n")[2:]
	if len(fonts) != 2 {
		t.Errorf("pdffonts lists %d fonts, want 2:\n%s", len(fonts), strings.Join(fonts, "\n"))
	}
	for _, f := range fonts {
		if fs := strings.Fields(f); len(fs) < 5 || fs[len(fs)-5] != "yes" {
			t.Errorf("font not embedded: %s", f)
		}
	}
}

func TestRender500Numbers(t *testing.T) {
	t.Parallel()
	in := example(500)
	pg := pages(t, render(t, in))
	if len(pg) != 5 {
		t.Fatalf("%d pages, want 5", len(pg))
	}
	seen := map[string]int{}
	e164 := regexp.MustCompile(`\+1202555\d{4}`)
	for i, p := range pg {
		footer := fmt.Sprintf("Page %d of 5", i+1)
		if !strings.HasSuffix(p, footer) {
			t.Errorf("page %d does not end with %q: ...%s", i+1, footer, p[max(0, len(p)-60):])
		}
		if i == 0 {
			continue
		}
		contains(t, "attachment page "+strconv.Itoa(i+1), p, "Attachment A: numbers to be ported")
		for _, n := range e164.FindAllString(p, -1) {
			seen[n]++
		}
	}
	for _, n := range in.Numbers {
		if seen[n] != 1 {
			t.Errorf("%s appears %d times in Attachment A", n, seen[n])
		}
	}
	if len(seen) != len(in.Numbers) {
		t.Errorf("Attachment A lists %d distinct numbers, want %d", len(seen), len(in.Numbers))
	}
}

func TestRenderQRCode(t *testing.T) {
	t.Parallel()
	in := example(2)
	prefix := filepath.Join(t.TempDir(), "page")
	run(t, "pdftoppm", "-r", "150", "-f", "1", "-l", "1", "-png", "-singlefile", render(t, in), prefix)
	f, err := os.Open(prefix + ".png")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("no QR code on page 1: %v", err)
	}
	if got, want := res.GetText(), in.AccountID+"-"+in.RequestID; got != want {
		t.Errorf("QR code says %q, want %q", got, want)
	}
}

func TestRenderDeterministic(t *testing.T) {
	t.Parallel()
	in := international()
	in.Provider.Logo = logoPNG(t, 240, 80, false)
	first, err := Render(in)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		again, err := Render(in)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, again) {
			t.Fatal("two renders of the same input differ")
		}
	}
	if !bytes.Contains(first, []byte("/CreationDate(D:20160510172938+00'00')")) {
		t.Error("creation date is not the request's date")
	}
}

// TestRenderLogo embeds logos gopdf cannot take as they are (16-bit PNG),
// a JPEG, and garbage, which is left out rather than failing the letter.
func TestRenderLogo(t *testing.T) {
	t.Parallel()
	var jpg bytes.Buffer
	src, _, _ := image.Decode(bytes.NewReader(logoPNG(t, 90, 30, false)))
	if err := jpeg.Encode(&jpg, src, nil); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		logo   []byte
		images int
	}{
		"png":     {logoPNG(t, 120, 40, false), 2},
		"png16":   {logoPNG(t, 800, 200, true), 2},
		"jpeg":    {jpg.Bytes(), 2},
		"garbage": {[]byte("not an image"), 1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			in := example(2)
			in.Provider.Logo = tc.logo
			list := strings.Split(strings.TrimSpace(run(t, "pdfimages", "-list", render(t, in))), "\n")[2:]
			images := 0 // not counting the soft masks of transparent PNGs
			for _, l := range list {
				if f := strings.Fields(l); len(f) > 2 && f[2] == "image" {
					images++
				}
			}
			if images != tc.images {
				t.Errorf("%d images in the PDF, want %d:\n%s", images, tc.images, strings.Join(list, "\n"))
			}
		})
	}
}

// TestExamplePNG renders the example letter's first page to PNG and checks
// it is a Letter-sized image; with -example it rewrites docs/loa-example.png.
func TestExamplePNG(t *testing.T) {
	in := example(4)
	in.Provider.Logo = logoPNG(t, 192, 96, false)
	prefix := filepath.Join(t.TempDir(), "page")
	run(t, "pdftoppm", "-r", "80", "-f", "1", "-l", "1", "-png", "-singlefile", render(t, in), prefix)
	png, err := os.ReadFile(prefix + ".png")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := stdpng.DecodeConfig(bytes.NewReader(png))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Width != 680 || cfg.Height != 880 { // 8.5 x 11 in at 80 dpi
		t.Errorf("page image %dx%d, want 680x880", cfg.Width, cfg.Height)
	}
	if !*writeExample {
		return
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", "loa-example.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkRender(b *testing.B) {
	for _, n := range []int{1, 50, 500} {
		in := example(n)
		b.Run(itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Render(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
