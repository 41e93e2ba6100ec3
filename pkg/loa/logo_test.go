package loa

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/png"
	"strings"
	"testing"
)

// bombPNG is a valid PNG header declaring w×h pixels: a few hundred bytes
// that would decode to w*h*4 bytes.
func bombPNG(t *testing.T, w, h uint32) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	// IHDR: length(4) "IHDR"(4) width(4) height(4) … crc(4), after the
	// 8-byte signature.
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

func TestCheckLogo(t *testing.T) {
	var ok bytes.Buffer
	if err := png.Encode(&ok, image.NewGray(image.Rect(0, 0, 600, 200))); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		logo []byte
		want string // "" = accepted
	}{
		{"a letterhead logo", ok.Bytes(), ""},
		{"900 million pixels", bombPNG(t, 30000, 30000), "30000×30000 pixels"},
		{"a long thin strip", bombPNG(t, 10000, 10), "10000×10 pixels"},
		{"just over the bound", bombPNG(t, 4000, 2001), "4000×2001 pixels"},
		{"just within", bombPNG(t, 4000, 2000), ""},
		{"not an image", []byte("GIF89a not really"), "not a PNG or JPEG"},
		{"empty", nil, "not a PNG or JPEG"},
	} {
		err := CheckLogo(c.logo)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !errors.Is(err, ErrLogo) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// A bomb stored before uploads were checked is left out of the letter and
// never decoded (decoding it would allocate 3.6 GB).
func TestRenderLeavesOutABombLogo(t *testing.T) {
	in := example(3)
	in.Provider.Logo = bombPNG(t, 30000, 30000)
	if w, h, ok := logoBox(in.Provider.Logo); ok {
		t.Errorf("logoBox placed the bomb at %v×%v", w, h)
	}
	if normalizeLogo(in.Provider.Logo) != nil {
		t.Error("normalizeLogo decoded the bomb")
	}
	pdf, err := Render(in)
	if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("Render: %v", err)
	}
}
