package loa

import (
	"bytes"
	"fmt"
	"image"
	"image/png"

	"github.com/signintech/gopdf"
	xdraw "golang.org/x/image/draw"
)

// tones maps a Tone to the RGB it is printed in: a near-black ink, a grey
// for labels and a dark blue accent, all of which survive fax and
// greyscale printing.
var tones = map[Tone][3]uint8{
	Ink:      {17, 24, 39},
	Muted:    {88, 96, 110},
	Accent:   {22, 62, 120},
	Hairline: {200, 205, 214},
}

// Render lays out in (see Layout) and draws it as a PDF with gopdf.
//
// The output is deterministic: the creation date is in.Date, the fonts are
// the embedded Go fonts (subset to the glyphs used), the QR code is
// generated locally, and gopdf writes nothing time-dependent or random when
// no encryption is set, so the same input always yields the same bytes.
func Render(in Input) ([]byte, error) {
	return draw(Layout(in), in)
}

func draw(doc Document, in Input) ([]byte, error) {
	pdf := &gopdf.GoPdf{}
	pdf.Start(gopdf.Config{Unit: gopdf.UnitPT, PageSize: gopdf.Rect{W: doc.Width, H: doc.Height}})
	for _, s := range []Style{Regular, Bold} {
		if err := pdf.AddTTFFontData(string(s), s.ttf()); err != nil {
			return nil, fmt.Errorf("loa: font %s: %w", s, err)
		}
	}
	pdf.SetInfo(gopdf.PdfInfo{
		Title:        join(" · ", "Letter of Authorization", clean(in.RequestName)),
		Author:       clean(in.Provider.Name),
		Subject:      in.Reference(),
		Creator:      "portreqd",
		CreationDate: in.Date,
	})

	images := map[ImageKind]gopdf.ImageHolder{}
	for pi, p := range doc.Pages {
		pdf.AddPage()
		for _, r := range p.Rules {
			c := tones[r.Tone]
			pdf.SetStrokeColor(c[0], c[1], c[2])
			pdf.SetLineWidth(r.Width)
			pdf.Line(r.X1, r.Y1, r.X2, r.Y2)
		}
		for _, im := range p.Images {
			h, err := holder(images, im, in)
			if err != nil {
				return nil, err
			}
			if h == nil {
				continue
			}
			if err := pdf.ImageByHolder(h, im.X, im.Y, &gopdf.Rect{W: im.W, H: im.H}); err != nil {
				return nil, fmt.Errorf("loa: page %d: %s image: %w", pi+1, im.Kind, err)
			}
		}
		for _, t := range p.Texts {
			if err := pdf.SetFont(string(t.Style), "", t.Size); err != nil {
				return nil, fmt.Errorf("loa: page %d: %w", pi+1, err)
			}
			c := tones[t.Tone]
			pdf.SetTextColor(c[0], c[1], c[2])
			pdf.SetXY(t.X, t.Y)
			if err := pdf.Text(t.Text); err != nil {
				return nil, fmt.Errorf("loa: page %d: text %q: %w", pi+1, t.Text, err)
			}
		}
	}
	out, err := pdf.GetBytesPdfReturnErr()
	if err != nil {
		return nil, fmt.Errorf("loa: write pdf: %w", err)
	}
	return out, nil
}

// holder returns the image data for im, made once per document (gopdf
// embeds an image once and references it from every placement). A logo that
// does not decode yields nil and is left out.
func holder(cache map[ImageKind]gopdf.ImageHolder, im Image, in Input) (gopdf.ImageHolder, error) {
	if h, ok := cache[im.Kind]; ok {
		return h, nil
	}
	var data []byte
	switch im.Kind {
	case QRCode:
		var err error
		if data, err = qrPNG(im.Content); err != nil {
			return nil, err
		}
	case Logo:
		data = normalizeLogo(in.Provider.Logo)
	}
	if data == nil {
		cache[im.Kind] = nil
		return nil, nil
	}
	h, err := gopdf.ImageHolderByBytes(data)
	if err != nil {
		return nil, fmt.Errorf("loa: %s image: %w", im.Kind, err)
	}
	cache[im.Kind] = h
	return h, nil
}

// maxLogoPx bounds the embedded logo: 600 px over at most 150 pt is 288 dpi,
// more than any printer or fax needs, and keeps a huge upload from bloating
// every letter.
const maxLogoPx = 600

// normalizeLogo re-encodes the logo as an 8-bit, non-interlaced PNG, the
// only PNG flavour gopdf embeds reliably (it rejects 16-bit and interlaced
// files), scaling it down if it is larger than needed. It returns nil if the
// logo does not decode.
func normalizeLogo(logo []byte) []byte {
	if CheckLogo(logo) != nil {
		return nil // stored before uploads were checked: left out, never decoded
	}
	src, _, err := image.Decode(bytes.NewReader(logo))
	if err != nil {
		return nil
	}
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > maxLogoPx || h > maxLogoPx {
		s := float64(maxLogoPx) / float64(max(w, h))
		w, h = max(1, int(float64(w)*s)), max(1, int(float64(h)*s))
	}
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	if w == b.Dx() && h == b.Dy() {
		xdraw.Draw(dst, dst.Bounds(), src, b.Min, xdraw.Src)
	} else {
		xdraw.CatmullRom.Scale(dst, dst.Bounds(), src, b, xdraw.Src, nil)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, dst); err != nil {
		return nil
	}
	return buf.Bytes()
}
