package loa

import (
	"strings"
	"sync"
	"unicode"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
)

// Style names one of the two embedded faces. The Go fonts are used because
// they ship inside the binary (no font files on the server) and cover
// Latin-1, Latin Extended-A, Greek and Cyrillic, so names such as
// "Société Générale" or "Zoë Müller" print as typed.
type Style string

// The faces a Document may use.
const (
	Regular Style = "regular"
	Bold    Style = "bold"
)

// ttf returns the TrueType bytes of a face, for embedding by Render.
func (s Style) ttf() []byte {
	if s == Bold {
		return gobold.TTF
	}
	return goregular.TTF
}

// metrics measures text exactly as gopdf will set it: gopdf writes every
// glyph width to the PDF as advance*1000/unitsPerEm, truncated, and places
// glyphs by those widths (kerning off). Measuring the same TTF bytes the
// same way lets Layout wrap and right-align text without gopdf, and the
// result is what the PDF shows to the hundredth of a point.
type metrics struct {
	f      *sfnt.Font
	upem   int
	latin  [tableRunes]uint16 // width in 1/1000 em of the runes below tableRunes
	hasLat [tableRunes]bool
}

// tableRunes bounds the precomputed width table: Latin, Greek, Cyrillic and
// general punctuation (curly quotes, dashes), i.e. everything the letter's
// own wording and ordinary names use. Other runes are measured on demand.
const tableRunes = 0x2070

var faces = sync.OnceValue(func() map[Style]*metrics {
	m := map[Style]*metrics{}
	for _, s := range []Style{Regular, Bold} {
		f, err := sfnt.Parse(s.ttf())
		if err != nil {
			panic("loa: embedded Go font does not parse: " + err.Error())
		}
		fm := &metrics{f: f, upem: int(f.UnitsPerEm())}
		var buf sfnt.Buffer
		for r := range rune(len(fm.latin)) {
			w, ok := fm.lookup(&buf, r)
			fm.latin[r], fm.hasLat[r] = uint16(w), ok
		}
		m[s] = fm
	}
	return m
})

// lookup returns the width of r in 1/1000 em and whether the face has a
// glyph for it.
func (m *metrics) lookup(buf *sfnt.Buffer, r rune) (int, bool) {
	gi, err := m.f.GlyphIndex(buf, r)
	if err != nil || gi == 0 {
		return 0, false
	}
	adv, err := m.f.GlyphAdvance(buf, gi, fixed.Int26_6(m.upem<<6), font.HintingNone)
	if err != nil {
		return 0, false
	}
	return int(adv>>6) * 1000 / m.upem, true
}

func (m *metrics) width1000(r rune) (int, bool) {
	if r >= 0 && int(r) < len(m.latin) {
		return int(m.latin[r]), m.hasLat[r]
	}
	var buf sfnt.Buffer
	return m.lookup(&buf, r)
}

// textWidth is the advance of s set in style at size points.
func textWidth(s string, style Style, size float64) float64 {
	m := faces()[style]
	sum := 0
	for _, r := range s {
		w, _ := m.width1000(r)
		sum += w
	}
	return float64(sum) * size / 1000
}

// clean makes s printable with the embedded faces: control characters
// become spaces, runs of blanks collapse, and a rune neither face can draw
// becomes "?" so that rendering never fails on an exotic name.
func clean(s string) string {
	reg, bold := faces()[Regular], faces()[Bold]
	var b strings.Builder
	space := false
	for _, r := range strings.TrimSpace(s) {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		_, okR := reg.width1000(r)
		_, okB := bold.width1000(r)
		if !okR || !okB {
			r = '?'
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}
