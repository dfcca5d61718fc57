package letters

import (
	"bytes"
	"compress/bzip2"
	_ "embed"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"codeberg.org/go-pdf/fpdf"
	"github.com/boombuler/barcode/qr"

	"github.com/rekey/rekey/shared/rekey"
)

// Card is what one user's login letter shows. Password is empty unless the
// task generated the password (a default password is told to users another
// way and never printed).
type Card struct {
	FirstName string
	LastName  string
	School    string
	Grade     string
	Username  string
	Password  string
	// SignInURL is the address to type or scan; it is also the QR code's
	// only content.
	SignInURL string
}

// PageSize is a paper size the letters are laid out for.
type PageSize string

// The paper sizes districts print on.
const (
	A4     PageSize = "A4"
	Letter PageSize = "Letter"
)

// Options shape the document. The zero value prints on A4.
type Options struct {
	PageSize PageSize
}

// Cards per page: 2 × 4 leaves each card about 95 × 69 mm on A4 (96 × 65
// on Letter), room for a name in 12 pt and a QR code a phone reads at
// arm's length.
const (
	columns = 2
	rows    = 4
	// margin is the page margin in mm; most office printers cannot print
	// closer to the edge.
	margin = 10.0
	// maxTextRunes bounds each printed field: longer values are cut with an
	// ellipsis, so that a hostile or broken import cannot make one card
	// cost seconds of layout.
	maxTextRunes = 120
)

// Embedded fonts: DejaVu Sans (Latin, Greek, Cyrillic, Armenian, Hebrew,
// Arabic; Bitstream Vera licence) and Droid Sans Fallback (Chinese,
// Japanese, Korean; Apache 2.0), see fonts/. The CJK font is kept
// bzip2-compressed (1.9 MB instead of 4 MB, in the repository and in every
// binary that links this package) and only decompressed, once, for the
// first document with a CJK name.
var (
	//go:embed fonts/DejaVuSans.ttf
	dejaVuSans []byte
	//go:embed fonts/DejaVuSans-Bold.ttf
	dejaVuSansBold []byte
	//go:embed fonts/DroidSansFallbackFull.ttf.bz2
	droidSansFallbackBz2 []byte
	droidSansFallback    = sync.OnceValues(func() ([]byte, error) {
		font, err := io.ReadAll(bzip2.NewReader(bytes.NewReader(droidSansFallbackBz2)))
		if err != nil {
			return nil, fmt.Errorf("letters: read the embedded CJK font: %w", err)
		}
		return font, nil
	})
)

const (
	fontSans = "dejavu"
	fontCJK  = "droid"
)

// qrEncoder turns a payload into QR modules (true = dark), row by row.
// Only the sign-in address is ever passed to it; tests wrap it to prove
// that no password reaches it.
type qrEncoder func(payload string) ([][]bool, error)

// Write lays out one card per user, sorted by school, grade (in school
// order) and last name, and writes the PDF to w. Bad input (no cards, an
// unknown page size, a sign-in address that is not an absolute http(s)
// URL) is a *rekey.Error and nothing is written.
func Write(w io.Writer, cards []Card, opts Options) error {
	doc, err := render(cards, opts, encodeQR)
	if err != nil {
		return err
	}
	if err := doc.Output(w); err != nil {
		return fmt.Errorf("letters: write pdf: %w", err)
	}
	return nil
}

// render builds the document in memory.
func render(cards []Card, opts Options, encode qrEncoder) (*fpdf.Fpdf, error) {
	size := opts.PageSize
	if size == "" {
		size = A4
	}
	if size != A4 && size != Letter {
		return nil, rekey.FieldError(rekey.ECodeInvalidInput, "pageSize", fmt.Sprintf("Page size must be %s or %s.", A4, Letter))
	}
	if len(cards) == 0 {
		return nil, rekey.Errorf(rekey.ECodeInvalidInput, "There are no users to print letters for.")
	}
	for _, c := range cards {
		if err := checkSignInURL(c.SignInURL); err != nil {
			return nil, err
		}
	}
	sorted := slices.Clone(cards)
	slices.SortStableFunc(sorted, compareCards)

	doc := fpdf.NewCustom(&fpdf.InitType{UnitStr: "mm", SizeStr: string(size)})
	doc.SetAutoPageBreak(false, 0)
	doc.SetTitle("Login letters", true)
	doc.SetCreator("Rekey", true)
	doc.AddUTF8FontFromBytes(fontSans, "", dejaVuSans)
	doc.AddUTF8FontFromBytes(fontSans, "B", dejaVuSansBold)
	if slices.ContainsFunc(sorted, cardNeedsCJK) {
		font, err := droidSansFallback()
		if err != nil {
			return nil, err
		}
		doc.AddUTF8FontFromBytes(fontCJK, "", font)
		doc.AddUTF8FontFromBytes(fontCJK, "B", font)
	}
	l := layout{doc: doc, qrImages: map[string]string{}, encode: encode}
	pageW, pageH := doc.GetPageSize()
	l.cardW = (pageW - 2*margin) / columns
	l.cardH = (pageH - 2*margin) / rows
	for i, c := range sorted {
		slot := i % (columns * rows)
		if slot == 0 {
			doc.AddPage()
			l.cutLines(pageW, pageH)
		}
		x := margin + float64(slot%columns)*l.cardW
		y := margin + float64(slot/columns)*l.cardH
		if err := l.card(x, y, c); err != nil {
			return nil, err
		}
	}
	if err := doc.Error(); err != nil {
		return nil, fmt.Errorf("letters: lay out pdf: %w", err)
	}
	return doc, nil
}

// checkSignInURL accepts only absolute http(s) addresses: the QR code must
// open a web page, never run a script or dial a number.
func checkSignInURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return rekey.FieldError(rekey.ECodeInvalidInput, "signInUrl", "The sign-in address must be an absolute http or https URL.")
	}
	return nil
}

// compareCards orders cards by school, grade in school order (K, 1, …, 12,
// then grades Rekey does not know, alphabetically), last name, first name
// and username, ignoring case.
func compareCards(a, b Card) int {
	if c := strings.Compare(strings.ToLower(a.School), strings.ToLower(b.School)); c != 0 {
		return c
	}
	la, okA := rekey.GradeLevel(a.Grade)
	lb, okB := rekey.GradeLevel(b.Grade)
	switch {
	case okA && okB && la != lb:
		return la - lb
	case okA != okB:
		if okA {
			return -1
		}
		return 1
	case !okA:
		if c := strings.Compare(strings.ToLower(a.Grade), strings.ToLower(b.Grade)); c != 0 {
			return c
		}
	}
	for _, pair := range [][2]string{{a.LastName, b.LastName}, {a.FirstName, b.FirstName}, {a.Username, b.Username}} {
		if c := strings.Compare(strings.ToLower(pair[0]), strings.ToLower(pair[1])); c != 0 {
			return c
		}
	}
	return 0
}

// cardNeedsCJK reports whether any text of c is drawn with the CJK font.
func cardNeedsCJK(c Card) bool {
	for _, s := range []string{c.FirstName, c.LastName, c.School, c.Grade, c.Username, c.Password, c.SignInURL} {
		if strings.ContainsFunc(s, isCJK) {
			return true
		}
	}
	return false
}

// layout draws cards on the document's pages.
type layout struct {
	doc          *fpdf.Fpdf
	cardW, cardH float64
	encode       qrEncoder
	// qrImages maps a sign-in address to the name of its registered
	// image: a district's thousand cards share one image in the file.
	qrImages map[string]string
}

// cutLines draws dashed lines along every card edge, across the whole
// page, so that a paper cutter can follow them.
func (l *layout) cutLines(pageW, pageH float64) {
	d := l.doc
	d.SetDrawColor(150, 150, 150)
	d.SetLineWidth(0.2)
	d.SetDashPattern([]float64{2, 1.5}, 0)
	for i := 0; i <= columns; i++ {
		x := margin + float64(i)*l.cardW
		d.Line(x, 0, x, pageH)
	}
	for i := 0; i <= rows; i++ {
		y := margin + float64(i)*l.cardH
		d.Line(0, y, pageW, y)
	}
	d.SetDashPattern(nil, 0)
}

// card draws one card with its top-left corner at x, y.
func (l *layout) card(x, y float64, c Card) error {
	const (
		pad    = 5.0
		qrGap  = 4.0
		maxQR  = 28.0
		labelS = 7.5
	)
	w, h := l.cardW-2*pad, l.cardH-2*pad
	left, top := x+pad, y+pad
	name := strings.TrimSpace(clip(c.FirstName) + " " + clip(c.LastName))
	l.line(left, top+5, w, name, "B", 13, 0)
	l.line(left, top+10.5, w, clip(c.School), "", 9.5, 60)
	if g := strings.TrimSpace(c.Grade); g != "" {
		l.line(left, top+15, w, "Grade "+clip(g), "", 9.5, 60)
	}

	urlLines := wrapURL(l.doc, c.SignInURL, w)
	urlTop := top + h - 3.6*float64(len(urlLines)) - 2.8
	qrSize := min(maxQR, urlTop-(top+18)-1)
	colW := w - qrSize - qrGap

	l.line(left, top+22, colW, "Username", "", labelS, 100)
	l.line(left, top+27, colW, clip(c.Username), "B", 12, 0)
	if c.Password != "" {
		l.line(left, top+33, colW, "Password", "", labelS, 100)
		l.line(left, top+39, colW, clip(c.Password), "B", 13, 0)
		l.line(left, top+43.5, colW, "You will choose a new one when you sign in.", "", 6.5, 100)
	}

	l.line(left, urlTop, w, "Sign in at (or scan the code)", "", labelS, 100)
	for i, u := range urlLines {
		l.line(left, urlTop+3.6*float64(i+1), w, u, "", 8.5, 0)
	}
	return l.qr(left+w-qrSize, top+18, qrSize, c.SignInURL)
}

// clip cuts s to maxTextRunes characters.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= maxTextRunes {
		return s
	}
	return string([]rune(s)[:maxTextRunes-1]) + "…"
}

// minFontSize is the smallest size line shrinks text to before cutting
// it: still readable on paper.
const minFontSize = 6.0

// line draws one line of user text with its baseline at y, in visual
// order and the fonts its scripts need, shrunk until it fits width; text
// still too wide at minFontSize is clipped at the edge of its box.
func (l *layout) line(x, y, width float64, text, style string, size float64, gray int) {
	runs := fontRuns(displayText(text))
	d := l.doc
	measure := func(size float64) float64 {
		total := 0.0
		for _, r := range runs {
			d.SetFont(runFont(r), style, size)
			total += d.GetStringWidth(r.text)
		}
		return total
	}
	for size > minFontSize && measure(size) > width {
		size = max(minFontSize, size-0.5)
	}
	overflow := measure(size) > width
	if overflow {
		d.ClipRect(x, y-size*0.4, width, size*0.6, false)
	}
	d.SetTextColor(gray, gray, gray)
	for _, r := range runs {
		d.SetFont(runFont(r), style, size)
		d.Text(x, y, r.text)
		x += d.GetStringWidth(r.text)
	}
	if overflow {
		d.ClipEnd()
	}
}

// runFont is the font family of a run.
func runFont(r textRun) string {
	if r.cjk {
		return fontCJK
	}
	return fontSans
}

// wrapURL splits an address into lines no wider than width at 8.5 pt,
// breaking after a '/' where it can and anywhere when it must.
func wrapURL(d *fpdf.Fpdf, s string, width float64) []string {
	d.SetFont(fontSans, "", 8.5)
	var lines []string
	for s != "" && len(lines) < 3 {
		if d.GetStringWidth(s) <= width {
			lines = append(lines, s)
			return lines
		}
		cut := 0
		for i := range s {
			if i > 0 && d.GetStringWidth(s[:i]) > width {
				break
			}
			cut = i
		}
		if slash := strings.LastIndexByte(s[:cut], '/'); slash > cut/2 {
			cut = slash + 1
		}
		cut = max(cut, 1)
		lines = append(lines, s[:cut])
		s = s[cut:]
	}
	if s != "" {
		lines[len(lines)-1] += "…"
	}
	return lines
}

// qr draws the QR code of address in a size × size square at x, y.
func (l *layout) qr(x, y, size float64, address string) error {
	name, ok := l.qrImages[address]
	if !ok {
		modules, err := l.encode(address)
		if err != nil {
			return fmt.Errorf("letters: qr code: %w", err)
		}
		img, err := qrPNG(modules)
		if err != nil {
			return fmt.Errorf("letters: qr code: %w", err)
		}
		name = fmt.Sprintf("qr%d", len(l.qrImages))
		l.doc.RegisterImageOptionsReader(name, fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(img))
		l.qrImages[address] = name
	}
	l.doc.ImageOptions(name, x, y, size, size, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
	return nil
}

// encodeQR encodes payload at error-correction level M (15 % of the code
// may be smudged or folded and it still reads).
func encodeQR(payload string) ([][]bool, error) {
	code, err := qr.Encode(payload, qr.M, qr.Auto)
	if err != nil {
		return nil, err
	}
	b := code.Bounds()
	modules := make([][]bool, b.Dy())
	for y := range modules {
		modules[y] = make([]bool, b.Dx())
		for x := range modules[y] {
			r, _, _, _ := code.At(b.Min.X+x, b.Min.Y+y).RGBA()
			modules[y][x] = r < 0x8000
		}
	}
	return modules, nil
}

// qrPNG draws modules as a black-and-white PNG, 8 pixels a module with the
// 4-module quiet zone scanners need, so that it stays sharp when a viewer
// scales it without smoothing.
func qrPNG(modules [][]bool) ([]byte, error) {
	const scale, quiet = 8, 4
	n := len(modules)
	side := (n + 2*quiet) * scale
	img := image.NewPaletted(image.Rect(0, 0, side, side), color.Palette{color.White, color.Black})
	for y, row := range modules {
		for x, dark := range row {
			if !dark {
				continue
			}
			for dy := range scale {
				for dx := range scale {
					img.SetColorIndex((x+quiet)*scale+dx, (y+quiet)*scale+dy, 1)
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
