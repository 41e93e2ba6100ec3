package loa

import (
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg" // logo formats accepted by Provider.Logo
	_ "image/png"
	"math"
	"strings"
)

// Page geometry in PDF points (1/72 inch), US Letter. Coordinates in a
// Document are measured from the top-left corner of the page.
const (
	PageWidth  = 612.0
	PageHeight = 792.0

	margin   = 72.0                 // left and right margins (1 inch)
	top      = 48.0                 // top of the first page's header
	contentW = PageWidth - 2*margin // text column width
	bottom   = 714.0                // lowest content baseline
	footRule = 738.0                // rule above the footer
	footY    = 752.0                // footer baseline
	labelW   = 170.0                // label column of the field rows
	valueX   = margin + labelW      // value column of the field rows
	valueW   = contentW - labelW    // value column width
	qrSize   = 76.0                 // QR code edge
	qrX      = PageWidth - margin - qrSize
)

// Tone is a named colour; Render maps it to RGB, so the layout (and its
// golden files) says what a colour is for rather than which it is.
type Tone string

// The tones a Document uses.
const (
	Ink      Tone = "ink"      // body text and values
	Muted    Tone = "muted"    // labels, captions, footers
	Accent   Tone = "accent"   // title rule and section headings
	Hairline Tone = "hairline" // light separators
)

// Document is the laid-out letter: what Render draws, and nothing it has to
// decide. It is plain data so it can be golden-tested as JSON.
type Document struct {
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
	Pages  []Page  `json:"pages"`
}

// Page holds one page's drawing operations, in drawing order.
type Page struct {
	Texts  []Text  `json:"texts"`
	Rules  []Rule  `json:"rules,omitempty"`
	Images []Image `json:"images,omitempty"`
}

// Text is one line of text; X is its left edge and Y its baseline.
type Text struct {
	X     float64 `json:"x"`
	Y     float64 `json:"y"`
	Style Style   `json:"style"`
	Size  float64 `json:"size"`
	Tone  Tone    `json:"tone"`
	Text  string  `json:"text"`
}

// Rule is a straight line: separators, and the blank lines to sign or write on.
type Rule struct {
	X1    float64 `json:"x1"`
	Y1    float64 `json:"y1"`
	X2    float64 `json:"x2"`
	Y2    float64 `json:"y2"`
	Width float64 `json:"width"`
	Tone  Tone    `json:"tone"`
}

// ImageKind says what an Image shows.
type ImageKind string

// The images a Document may place.
const (
	QRCode ImageKind = "qr"   // Content is the payload
	Logo   ImageKind = "logo" // Input.Provider.Logo
)

// Image is a picture placed with its top-left corner at X, Y.
type Image struct {
	Kind    ImageKind `json:"kind"`
	X       float64   `json:"x"`
	Y       float64   `json:"y"`
	W       float64   `json:"w"`
	H       float64   `json:"h"`
	Content string    `json:"content,omitempty"`
}

// Layout lays out the letter for in. It is pure and deterministic: the same
// Input always gives the same Document. Text is wrapped with the exact
// advance widths gopdf uses for the embedded Go fonts (see metrics), so the
// wrapping is decided and tested here rather than in the PDF step.
//
// Page 1 holds the letter (header with provider and QR code, title, the
// authorizing paragraph, porting details, customer, signature lines; it
// flows onto further pages only if unusually long values make it overflow).
// Attachment A starts on a new page and lists every number in columns, over
// as many pages as needed. Every page is footed "Page N of M".
func Layout(in Input) Document {
	b := &builder{}
	b.newPage()
	b.header(in)
	b.letter(in)
	b.attachment(in)
	b.footers(clean(in.RequestName))
	return b.doc
}

type builder struct {
	doc Document
	y   float64 // baseline of the last line placed on the current page
}

func (b *builder) newPage() {
	b.doc.Width, b.doc.Height = PageWidth, PageHeight
	b.doc.Pages = append(b.doc.Pages, Page{})
	b.y = top
}

func (b *builder) page() *Page { return &b.doc.Pages[len(b.doc.Pages)-1] }

// Coordinates are rounded to 1/100 pt so the layout, and its golden files,
// are the same on every architecture (fused multiply-add may differ in the
// last bits) and stay readable.
func r2(v float64) float64 { return math.Round(v*100) / 100 }

func (b *builder) text(x, y float64, st Style, size float64, tone Tone, s string) {
	if s == "" {
		return
	}
	p := b.page()
	p.Texts = append(p.Texts, Text{X: r2(x), Y: r2(y), Style: st, Size: size, Tone: tone, Text: s})
}

func (b *builder) rule(x1, y1, x2, y2, w float64, tone Tone) {
	p := b.page()
	p.Rules = append(p.Rules, Rule{X1: r2(x1), Y1: r2(y1), X2: r2(x2), Y2: r2(y2), Width: w, Tone: tone})
}

// need starts a new page unless h more points fit above the bottom margin.
// The letter continues on it below the top margin, as on page 1.
func (b *builder) need(h float64) {
	if b.y+h > bottom {
		b.newPage()
		b.y = top + 12
	}
}

// header places the QR code top right and the provider's name, address and
// contact to its left, after the logo if there is one, then a rule.
func (b *builder) header(in Input) {
	p := b.page()
	p.Images = append(p.Images, Image{Kind: QRCode, X: qrX, Y: top, W: qrSize, H: qrSize, Content: in.Reference()})
	x, bottomY := margin, top+qrSize
	if w, h, ok := logoBox(in.Provider.Logo); ok {
		p.Images = append(p.Images, Image{Kind: Logo, X: margin, Y: top, W: r2(w), H: r2(h)})
		x += w + 14
		bottomY = math.Max(bottomY, top+h)
	}
	width := qrX - 20 - x // leave the QR code its quiet zone
	y := top + 11
	for _, l := range wrap(clean(in.Provider.Name), Bold, 13, width) {
		b.text(x, y, Bold, 13, Ink, l)
		y += 16
	}
	var lines []string
	for _, a := range in.Provider.AddressLines {
		lines = append(lines, clean(a))
	}
	lines = append(lines, join(" · ", clean(in.Provider.Email), clean(in.Provider.Phone)))
	y += 1
	for _, l := range lines {
		for _, w := range wrap(l, Regular, 9, width) {
			b.text(x, y, Regular, 9, Muted, w)
			y += 12
		}
	}
	bottomY = math.Max(bottomY, y-8)
	b.y = bottomY + 14
	b.rule(margin, b.y, PageWidth-margin, b.y, 1.2, Accent)
}

// letter places the title, date, authorizing paragraph, the porting and
// customer fields and the signature block.
func (b *builder) letter(in Input) {
	b.y += 36
	b.text(margin, b.y, Bold, 22, Ink, "Letter of Authorization")
	b.y += 20
	dateW := 0.0
	if !in.Date.IsZero() {
		date := in.Date.Format("January 2, 2006")
		lw := textWidth("Date: ", Regular, 9.5)
		b.text(margin, b.y, Regular, 9.5, Muted, "Date:")
		b.text(margin+lw, b.y, Regular, 9.5, Ink, date)
		dateW = lw + textWidth(date, Regular, 9.5)
	}
	if in.AccountID != "" || in.RequestID != "" {
		// What the QR code says, printed for a human, right-aligned.
		ref := fit("Reference: "+clean(in.Reference()), Regular, 8, contentW-dateW-24)
		b.text(PageWidth-margin-textWidth(ref, Regular, 8), b.y, Regular, 8, Muted, ref)
	}

	b.y += 10
	for _, l := range wrap(paragraph(in), Regular, 10.5, contentW) {
		b.y += 15
		b.need(0)
		b.text(margin, b.y, Regular, 10.5, Ink, l)
	}

	pin := "not provided"
	if in.HasPIN {
		pin = "provided"
	}
	b.section("Porting details", []field{
		{"Request:", clean(in.RequestName), false},
		{"Losing carrier:", clean(in.Carrier), true},
		{"Billing telephone number (BTN):", clean(in.BTN), true},
		{"Account number:", clean(in.AccountNumber), true},
		{"PIN:", pin, false},
		{"Numbers to port:", countNumbers(len(in.Numbers)) + ", listed in Attachment A", false},
	})
	c := in.Customer
	b.section("Customer", []field{
		{"Account name:", clean(c.AccountName), false},
		{"Name on bill:", clean(c.Name), false},
		{"Street address:", clean(c.StreetAddress), false},
		{"Extended address:", clean(c.ExtendedAddress), false},
		{"City / locality:", clean(c.Locality), false},
		{"State / region:", clean(c.Region), false},
		{"Postal code:", clean(c.PostalCode), false},
	})
	b.signature()
}

// field is one row of a section. Empty rows are skipped, except those marked
// blank, which get a rule to fill in by hand: a carrier cannot act on a
// letter missing them, and an empty space would read as "none".
type field struct {
	label, value string
	blank        bool
}

func (b *builder) section(title string, rows []field) {
	var kept []field
	for _, f := range rows {
		if f.value != "" || f.blank {
			kept = append(kept, f)
		}
	}
	if len(kept) == 0 {
		return
	}
	b.y += 28
	b.need(20 + 15) // keep the heading with its first row
	b.text(margin, b.y, Bold, 11, Accent, title)
	b.rule(margin, b.y+5, PageWidth-margin, b.y+5, 0.5, Hairline)
	b.y += 6
	for _, f := range kept {
		lines := wrap(f.value, Regular, 10, valueW)
		b.y += 15
		b.need(0)
		b.text(margin, b.y, Regular, 10, Muted, f.label)
		if len(lines) == 0 {
			b.rule(valueX, b.y+2, valueX+180, b.y+2, 0.5, Muted)
		}
		for i, l := range lines {
			if i > 0 {
				b.y += 13
			}
			b.text(valueX, b.y, Regular, 10, Ink, l)
		}
	}
}

// signature places the signer's name/title and signature/date lines: blank
// rules with captions beneath, as on a paper form.
func (b *builder) signature() {
	const gap = 28.0
	colW := (contentW - gap) / 2
	b.y += 28
	b.need(6 + 14 + 2*36 + 11)
	b.text(margin, b.y, Bold, 11, Accent, "Authorized signer")
	b.rule(margin, b.y+5, PageWidth-margin, b.y+5, 0.5, Hairline)
	b.y += 6
	for _, l := range wrap("To be signed by the customer, or by a person authorized to act for the customer.", Regular, 9.5, contentW) {
		b.y += 14
		b.text(margin, b.y, Regular, 9.5, Muted, l)
	}
	for _, row := range [][2]string{{"Name (print)", "Title"}, {"Signature", "Date"}} {
		b.y += 36
		for i, caption := range row {
			x := margin + float64(i)*(colW+gap)
			b.rule(x, b.y, x+colW, b.y, 0.6, Ink)
			b.text(x, b.y+11, Regular, 8.5, Muted, caption)
		}
	}
	b.y += 11
}

// attachment lists every number in columns, down then across, starting on
// a new page and continuing over as many pages as needed.
func (b *builder) attachment(in Input) {
	nums := make([]string, len(in.Numbers))
	numW := 0.0
	for i, n := range in.Numbers {
		nums[i] = clean(n)
		numW = math.Max(numW, textWidth(nums[i], Regular, 10))
	}
	idxW := textWidth(fmt.Sprint(len(nums)), Regular, 8.5)
	const gap, rowH, firstRow = 16.0, 14.5, 128.0
	entryW := idxW + 6 + numW
	cols := int((contentW + gap) / (entryW + gap))
	cols = max(1, min(cols, 4))
	colW := (contentW + gap) / float64(cols)
	rows := int(math.Floor((bottom-firstRow)/rowH)) + 1
	perPage := rows * cols

	for start := 0; start == 0 || start < len(nums); start += perPage {
		b.newPage()
		end := min(start+perPage, len(nums))
		title := "Attachment A: numbers to be ported"
		if start > 0 {
			title += " (continued)"
		}
		b.text(margin, top+22, Bold, 16, Ink, title)
		b.text(margin, top+42, Regular, 9.5, Muted, fit(join(" · ", numberRange(start, end, len(nums)), clean(in.RequestName)), Regular, 9.5, contentW))
		b.rule(margin, top+54, PageWidth-margin, top+54, 1.2, Accent)
		if len(nums) == 0 {
			b.text(margin, firstRow, Regular, 10, Ink, "No numbers are listed on this request.")
		}
		for i := start; i < end; i++ {
			k := i - start
			x := margin + float64(k/rows)*colW
			y := firstRow + float64(k%rows)*rowH
			idx := fmt.Sprint(i + 1)
			b.text(x+idxW-textWidth(idx, Regular, 8.5), y, Regular, 8.5, Muted, idx)
			b.text(x+idxW+6, y, Regular, 10, Ink, nums[i])
		}
	}
}

// footers foot every page with the request name and "Page N of M".
func (b *builder) footers(name string) {
	n := len(b.doc.Pages)
	for i := range b.doc.Pages {
		b.doc.Pages[i].Rules = append(b.doc.Pages[i].Rules, Rule{X1: margin, Y1: footRule, X2: PageWidth - margin, Y2: footRule, Width: 0.5, Tone: Hairline})
		num := fmt.Sprintf("Page %d of %d", i+1, n)
		nw := textWidth(num, Regular, 8)
		left := fit(join(" · ", "Letter of Authorization", name), Regular, 8, contentW-nw-24)
		p := &b.doc.Pages[i]
		p.Texts = append(p.Texts,
			Text{X: margin, Y: footY, Style: Regular, Size: 8, Tone: Muted, Text: left},
			Text{X: r2(PageWidth - margin - nw), Y: footY, Style: Regular, Size: 8, Tone: Muted, Text: num})
	}
}

// paragraph is the authorizing text. It names the customer, the provider
// (as agent) and the losing carrier, falling back to generic wording for
// whichever is missing so the sentence always reads.
func paragraph(in Input) string {
	cust := firstOf(clean(in.Customer.AccountName), clean(in.Customer.Name), "The customer")
	prov := firstOf(clean(in.Provider.Name), "the gaining provider")
	carrier, from := "the losing carrier", "the losing carrier"
	if c := clean(in.Carrier); c != "" {
		carrier, from = c, c+", the losing carrier"
	}
	them := "them"
	if len(in.Numbers) == 1 {
		them = "it"
	}
	return fmt.Sprintf("%s (the \u201cCustomer\u201d) hereby appoints %s as its agent to port the %s listed in "+
		"Attachment A from %s, and authorizes %s to release %s to %s and to provide the account "+
		"information needed to complete the port. The Customer confirms that it is the subscriber of record "+
		"for these numbers or is authorized to act for the subscriber, and understands that its service with "+
		"%s for these numbers ends when the port completes.",
		cust, prov, countNumbers(len(in.Numbers)), from, carrier, them, prov, carrier)
}

func countNumbers(n int) string {
	if n == 1 {
		return "1 telephone number"
	}
	return fmt.Sprintf("%d telephone numbers", n)
}

func numberRange(start, end, total int) string {
	switch {
	case total == 0:
		return "No numbers"
	case total == 1:
		return "1 number"
	}
	return fmt.Sprintf("Numbers %d\u2013%d of %d", start+1, end, total)
}

// logoBox decodes the logo's dimensions and fits it in 150×48 pt, keeping
// its aspect ratio. A logo that is not a PNG or JPEG is left out rather than
// failing the letter.
func logoBox(logo []byte) (w, h float64, ok bool) {
	if len(logo) == 0 || CheckLogo(logo) != nil {
		return 0, 0, false
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(logo))
	if err != nil {
		return 0, 0, false
	}
	s := math.Min(150/float64(cfg.Width), 48/float64(cfg.Height))
	return float64(cfg.Width) * s, float64(cfg.Height) * s, true
}

// wrap breaks s into lines no wider than width, at spaces; a word wider
// than a whole line is broken between characters.
func wrap(s string, st Style, size, width float64) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		cand := w
		if line != "" {
			cand = line + " " + w
		}
		if textWidth(cand, st, size) <= width {
			line = cand
			continue
		}
		if line != "" {
			lines = append(lines, line)
		}
		for line = w; textWidth(line, st, size) > width; {
			head := fitRunes(line, st, size, width)
			lines = append(lines, head)
			line = line[len(head):]
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// fitRunes returns the longest prefix of s (at least one rune) that fits.
func fitRunes(s string, st Style, size, width float64) string {
	end := 0
	for i, r := range s {
		next := i + len(string(r))
		if end > 0 && textWidth(s[:next], st, size) > width {
			break
		}
		end = next
	}
	return s[:end]
}

// fit shortens s with an ellipsis until it fits width.
func fit(s string, st Style, size, width float64) string {
	if textWidth(s, st, size) <= width {
		return s
	}
	return strings.TrimSpace(fitRunes(s, st, size, width-textWidth("…", st, size))) + "…"
}

func join(sep string, parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
