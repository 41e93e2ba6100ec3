package e2e

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// pdfText extracts a PDF's text with poppler's pdftotext, collapsing the
// column padding -layout adds.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("pdftotext (poppler-utils) is missing; .ci/run installs it")
		}
		t.Skip("pdftotext (poppler-utils) is not installed")
	}
	path := filepath.Join(t.TempDir(), "loa.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", path, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile(`[ \t]+`).ReplaceAllString(string(out), " ")
}

// TestLOA fetches the Letter of Authorization of the seed's request with a
// bill block and reads the PDF back.
func TestLOA(t *testing.T) { forEachStore(t, testLOA) }

func testLOA(t *testing.T, e *env) {
	s := e.start(t)
	mtok, master := s.login(t, e.apiKey)
	tok, acct := s.customer(t, mtok, master, "Société Générale")
	r := s.do(t, "PUT", "/v2/accounts/"+acct+"/port_requests", tok, map[string]any{"data": map[string]any{
		"name": "Porting 202.555.9000", "numbers": map[string]any{"+12025559000": map[string]any{}, "+12025559001": map[string]any{}},
		"carrier": "PACIFIC BELL",
		"bill": map[string]any{"name": "Zoë Müller", "address": "116 Natoma Street", "locality": "San Francisco",
			"region": "CA", "postal_code": "94105", "btn": "+14155550100", "account_number": "1234-5678", "pin": "9876"},
	}}).expect(t, 201)
	id := r.data()["id"].(string)
	path := "/v2/accounts/" + acct + "/port_requests/" + id + "/loa"

	s.do(t, "GET", path, tok, nil, "Accept", "application/json").expect(t, 406)
	pdf := s.do(t, "GET", path, tok, nil, "Accept", "application/pdf").expect(t, 200)
	if pdf.Header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(pdf.Raw, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q %.20q", pdf.Header.Get("Content-Type"), pdf.Raw)
	}
	if cd := pdf.Header.Get("Content-Disposition"); !strings.Contains(cd, "loa.pdf") {
		t.Errorf("Content-Disposition %q", cd)
	}
	again := s.do(t, "GET", path+"?accept=pdf", tok, nil).expect(t, 200)
	if !bytes.Equal(again.Raw, pdf.Raw) {
		t.Error("the LOA is not deterministic")
	}
	text := pdfText(t, pdf.Raw)
	for _, want := range []string{"Letter of Authorization", "Master Account", "PACIFIC BELL", "+14155550100",
		"1234-5678", "PIN: provided", "Société Générale", "Zoë Müller", "116 Natoma Street", "San Francisco",
		"94105", "+12025559000", "+12025559001", "Page 1 of 2", "Page 2 of 2", "Attachment A"} {
		if !strings.Contains(text, want) {
			t.Errorf("LOA text lacks %q", want)
		}
	}
	if strings.Contains(text, "9876") {
		t.Error("the LOA prints the PIN")
	}
	// Branding without code: a profile on an ancestor account, and its logo.
	s.do(t, "POST", "/v2/accounts/"+master, mtok, map[string]any{"data": map[string]any{"loa_profile": map[string]any{
		"name": "Bayview Voice Networks", "address_lines": []string{"500 Howard Street, Suite 300", "San Francisco, CA 94105"},
		"email": "porting@bayview.example", "phone": "+1 415 555 0199"}}}).expect(t, 200)
	s.do(t, "PUT", "/v2/accounts/"+master+"/loa_logo", mtok, logoPNG(t), "Content-Type", "image/png").expect(t, 201)
	s.do(t, "PUT", "/v2/accounts/"+master+"/loa_logo", mtok, "GIF89a", "Content-Type", "image/gif").expect(t, 415)
	branded := s.do(t, "GET", path, tok, nil, "Accept", "application/pdf").expect(t, 200)
	btext := pdfText(t, branded.Raw)
	for _, want := range []string{"Bayview Voice Networks", "500 Howard Street, Suite 300", "porting@bayview.example"} {
		if !strings.Contains(btext, want) {
			t.Errorf("branded LOA lacks %q", want)
		}
	}
	if n := pdfImages(t, branded.Raw); n != 2 {
		t.Errorf("branded LOA has %d images, want the QR code and the logo", n)
	}
	// The account itself still shows no private or attachment members.
	acc := s.do(t, "GET", "/v2/accounts/"+master, mtok, nil).expect(t, 200)
	if strings.Contains(string(acc.Raw), "_attachments") || acc.data()["loa_profile"] == nil {
		t.Errorf("account: %s", acc.Raw)
	}

	// Tenancy as for the request itself.
	tokB, b := s.customer(t, mtok, master, "Other")
	s.do(t, "GET", "/v2/accounts/"+b+"/port_requests/"+id+"/loa", tokB, nil, "Accept", "application/pdf").expect(t, 404)
}

// pdfImages counts the images in a PDF with poppler's pdfimages.
func pdfImages(t *testing.T, pdf []byte) int {
	t.Helper()
	path := filepath.Join(t.TempDir(), "loa.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdfimages", "-list", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return len(lines) - 2 // two header lines
}

// logoPNG is a small two-colour PNG.
func logoPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 120, 60))
	for x := 0; x < 120; x++ {
		for y := 0; y < 60; y++ {
			img.Set(x, y, color.RGBA{R: uint8(x * 2), G: 80, B: 160, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
