package letters

import (
	"bytes"
	"errors"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/rekey/rekey/shared/rekey"
)

const signIn = "https://rekey.example.org/sign-in"

// testCards are nine users in no particular order, with names in the
// scripts districts have, and names made to trip spreadsheets and HTML.
func testCards() []Card {
	return []Card{
		{FirstName: "Noah", LastName: "Zimmer", School: "Lincoln Elementary", Grade: "10", Username: "nzimmer", Password: "grape-kite-42", SignInURL: signIn},
		{FirstName: "Юлия", LastName: "Смирнова", School: "Lincoln Elementary", Grade: "2", Username: "ysmirnova", Password: "blue-moon-73", SignInURL: signIn},
		{FirstName: "Zoë", LastName: "Ørsted", School: "Lincoln Elementary", Grade: "K", Username: "zorsted", Password: "red-fox-28", SignInURL: signIn},
		{FirstName: "=1+1", LastName: "<script>alert(1)</script>", School: "Lincoln Elementary", Grade: "K", Username: "formula", Password: "cat-sun-55", SignInURL: signIn},
		{FirstName: "Ελένη", LastName: "Αλεξίου", School: "Lincoln Elementary", Grade: "1", Username: "ealexiou", Password: "duck-pond-39", SignInURL: signIn},
		{FirstName: "小明", LastName: "王", School: "Lincoln Elementary", Grade: "2", Username: "xwang", Password: "owl-tree-64", SignInURL: signIn},
		{FirstName: "דוד", LastName: "כהן", School: "Adams Middle", Grade: "7", Username: "dcohen", Password: "", SignInURL: signIn},
		{FirstName: "محمد", LastName: "العلي", School: "Adams Middle", Grade: "6", Username: "malali", Password: "", SignInURL: signIn},
		{FirstName: "Ama", LastName: "Mensah", School: "Lincoln Elementary", Grade: "", Username: "amensah", Password: "bee-hill-82", SignInURL: signIn},
	}
}

// wantOrder is testCards' usernames sorted by school, grade in school
// order (unknown grades last) and last name.
var wantOrder = []string{"malali", "dcohen", "formula", "zorsted", "ealexiou", "ysmirnova", "xwang", "nzimmer", "amensah"}

// needTool finds a poppler or zbar tool, or skips with how to get it.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed: apt-get install %s to run this test", name, pkg)
	}
	return path
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return string(out)
}

func writePDF(t *testing.T, cards []Card, opts Options) string {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, cards, opts); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("%PDF-")) {
		t.Fatalf("Write wrote %q…, want a PDF", buf.Bytes()[:min(20, buf.Len())])
	}
	path := filepath.Join(t.TempDir(), "letters.pdf")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pageCount(t *testing.T, pdf string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^Pages:\s+(\d+)$`).FindStringSubmatch(run(t, "pdfinfo", pdf))
	if m == nil {
		t.Fatalf("pdfinfo %s: no page count", pdf)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// unshape maps Arabic presentation forms, which the PDF's text holds, back
// to the letters they are forms of.
func unshape(s string) string {
	base := map[rune]rune{}
	for letter, f := range arabicForms {
		n := rune(2)
		if f.dual {
			n = 4
		}
		for i := range n {
			base[f.isolated+i] = letter
		}
	}
	return strings.Map(func(r rune) rune {
		if b, ok := base[r]; ok {
			return b
		}
		if r == 0x202B || r == 0x202C { // embedding marks pdftotext adds
			return -1
		}
		return r
	}, s)
}

func TestWriteContentAndOrder(t *testing.T) {
	needTool(t, "pdftotext", "poppler-utils")
	for _, size := range []PageSize{A4, Letter} {
		t.Run(string(size), func(t *testing.T) {
			cards := testCards()
			pdf := writePDF(t, cards, Options{PageSize: size})
			if got := pageCount(t, pdf); got != 2 {
				t.Errorf("pages = %d, want 2 (9 cards, 8 a page)", got)
			}
			info := run(t, "pdfinfo", pdf)
			if want := map[PageSize]string{A4: "(A4)", Letter: "(letter)"}[size]; !strings.Contains(info, want) {
				t.Errorf("pdfinfo = %q, want page size %s", info, want)
			}
			// -raw keeps the order of the content stream: the order cards
			// are drawn in.
			text := unshape(run(t, "pdftotext", "-raw", "-enc", "UTF-8", pdf, "-"))
			var order []string
			for _, line := range strings.Split(text, "\n") {
				for _, c := range cards {
					if strings.TrimSpace(line) == c.Username {
						order = append(order, c.Username)
					}
				}
			}
			if diff := cmp.Diff(wantOrder, order); diff != "" {
				t.Errorf("card order (-want +got):\n%s", diff)
			}
			for _, c := range cards {
				for _, want := range []string{c.FirstName, c.LastName, c.School, c.Username} {
					if !strings.Contains(text, want) {
						t.Errorf("text lacks %q (card %s):\n%s", want, c.Username, text)
					}
				}
				if c.Password != "" && !strings.Contains(text, "Password\n"+c.Password+"\n") {
					t.Errorf("text lacks password %q of %s", c.Password, c.Username)
				}
			}
			for _, want := range []string{"=1+1 <script>alert(1)</script>", "Zoë Ørsted", "Юлия Смирнова", "Ελένη Αλεξίου", "Grade K", "Grade 10", signIn} {
				if !strings.Contains(text, want) {
					t.Errorf("text lacks %q:\n%s", want, text)
				}
			}
			// Two cards have no password: two "Password" labels fewer.
			if got, want := strings.Count(text, "Password\n"), len(cards)-2; got != want {
				t.Errorf("%d Password labels, want %d", got, want)
			}
			if page2 := strings.Split(text, "\f")[1]; !strings.Contains(page2, "amensah") || strings.Contains(page2, "nzimmer") {
				t.Errorf("page 2 = %q, want only the ninth card (amensah)", page2)
			}
		})
	}
}

func TestRightToLeftNamesReadInOrder(t *testing.T) {
	needTool(t, "pdftotext", "poppler-utils")
	pdf := writePDF(t, testCards(), Options{})
	text := unshape(run(t, "pdftotext", "-enc", "UTF-8", pdf, "-"))
	// pdftotext reads right-to-left text back in logical order: had the
	// names been drawn as stored, it would read them reversed.
	for _, want := range []string{"דוד כהן", "محمد العلي"} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
}

func TestVisualOrder(t *testing.T) {
	for _, test := range []struct{ in, want string }{
		{"Zoë Ørsted", "Zoë Ørsted"},
		{"דוד כהן", "ןהכ דוד"},
		{"Anna דוד", "Anna דוד"},
		{"דוד Anna", "Anna דוד"},
		{"דוד (12)", "(12) דוד"},
		{"<script>", "<script>"},
	} {
		if got := visualOrder(test.in); got != test.want {
			t.Errorf("visualOrder(%q) = %q, want %q", test.in, got, test.want)
		}
	}
}

func TestShapeArabic(t *testing.T) {
	for _, test := range []struct{ in, want string }{
		// meem initial, hah medial, meem medial, dal final
		{"محمد", "\uFEE3\uFEA4\uFEE4\uFEAA"},
		// alef isolated (it never joins forward), lam initial, ain medial, lam medial, yeh final
		{"العلي", "\uFE8D\uFEDF\uFECC\uFEE0\uFEF2"},
		// lam + alef is one ligature
		{"لا", "\uFEFB"},
		{"Anna", "Anna"},
	} {
		if got := shapeArabic(test.in); got != test.want {
			t.Errorf("shapeArabic(%q) = %+q, want %+q", test.in, got, test.want)
		}
	}
}

func TestQRCodesHoldOnlyTheSignInAddress(t *testing.T) {
	cards := testCards()
	cards[0].SignInURL = "https://other.example.org/sign-in?school=lincoln"
	var payloads []string
	recording := func(payload string) ([][]bool, error) {
		payloads = append(payloads, payload)
		return encodeQR(payload)
	}
	doc, err := render(cards, Options{}, recording)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	if err := doc.Output(&countingWriter{}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(payloads)
	if want := []string{"https://other.example.org/sign-in?school=lincoln", signIn}; !slices.Equal(payloads, want) {
		t.Errorf("QR payloads = %q, want each sign-in address once: %q", payloads, want)
	}
	for _, p := range payloads {
		for _, c := range cards {
			if c.Password != "" && strings.Contains(p, c.Password) {
				t.Errorf("QR payload %q holds the password of %s", p, c.Username)
			}
		}
	}
}

func TestQRCodesDecodeToTheSignInAddress(t *testing.T) {
	needTool(t, "pdftoppm", "poppler-utils")
	needTool(t, "zbarimg", "zbar-tools")
	cards := testCards()
	pdf := writePDF(t, cards, Options{})
	png := filepath.Join(t.TempDir(), "page")
	run(t, "pdftoppm", "-png", "-r", "200", "-f", "1", "-l", "1", pdf, png)
	out, err := exec.Command("zbarimg", "--raw", "-q", png+"-1.png").Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	decoded := strings.Fields(string(out))
	if len(decoded) != 8 {
		t.Errorf("decoded %d QR codes on page 1, want 8: %q", len(decoded), decoded)
	}
	for _, d := range decoded {
		if d != signIn {
			t.Errorf("QR code holds %q, want only %q", d, signIn)
		}
	}
}

// TestScreenshot renders the first page of A4 and Letter letters to
// artifacts/screenshots/ for people to look at.
func TestScreenshot(t *testing.T) {
	needTool(t, "pdftoppm", "poppler-utils")
	dir := filepath.Join(repoRoot(t), "artifacts", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, size := range []PageSize{A4, Letter} {
		pdf := writePDF(t, testCards(), Options{PageSize: size})
		name := filepath.Join(dir, "letters-"+strings.ToLower(string(size)))
		run(t, "pdftoppm", "-png", "-r", "100", "-f", "1", "-l", "1", "-singlefile", pdf, name)
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

func TestWriteRefusesBadInput(t *testing.T) {
	good := testCards()
	withURL := func(u string) []Card {
		cards := testCards()
		cards[3].SignInURL = u
		return cards
	}
	for _, test := range []struct {
		name  string
		cards []Card
		opts  Options
		field string
	}{
		{"no cards", nil, Options{}, ""},
		{"unknown page size", good, Options{PageSize: "A3"}, "pageSize"},
		{"lower-case page size", good, Options{PageSize: "letter"}, "pageSize"},
		{"empty address", withURL(""), Options{}, "signInUrl"},
		{"javascript address", withURL("javascript:alert(1)"), Options{}, "signInUrl"},
		{"relative address", withURL("/sign-in"), Options{}, "signInUrl"},
		{"ftp address", withURL("ftp://rekey.example.org/"), Options{}, "signInUrl"},
		{"no host", withURL("https:///sign-in"), Options{}, "signInUrl"},
	} {
		t.Run(test.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Write(&buf, test.cards, test.opts)
			var rerr *rekey.Error
			if !errors.As(err, &rerr) || rerr.Code != rekey.ECodeInvalidInput || rerr.Field != test.field {
				t.Fatalf("Write = %v, want invalid_input on field %q", err, test.field)
			}
			if buf.Len() != 0 {
				t.Errorf("Write wrote %d bytes with an error, want none", buf.Len())
			}
		})
	}
}

func TestWriteDoesNotReorderCallersCards(t *testing.T) {
	cards := testCards()
	before := slices.Clone(cards)
	if err := Write(&countingWriter{}, cards, Options{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, cards); diff != "" {
		t.Errorf("Write changed the caller's slice (-before +after):\n%s", diff)
	}
}

func TestCompareCardsGradeOrder(t *testing.T) {
	grades := []string{"12", "Other", "K", "10", "", "2", "PK", "1", "9"}
	cards := make([]Card, len(grades))
	for i, g := range grades {
		cards[i] = Card{School: "S", Grade: g, LastName: "X"}
	}
	slices.SortStableFunc(cards, compareCards)
	var got []string
	for _, c := range cards {
		got = append(got, c.Grade)
	}
	if want := []string{"PK", "K", "1", "2", "9", "10", "12", "", "Other"}; !slices.Equal(got, want) {
		t.Errorf("sorted grades = %q, want %q", got, want)
	}
}

func TestLongTextStaysOnItsCard(t *testing.T) {
	needTool(t, "pdftoppm", "poppler-utils")
	cards := testCards()
	cards[0].LastName = strings.Repeat("Wolfeschlegelsteinhausenbergerdorff", 10)
	cards[0].Username = strings.Repeat("u", 300)
	cards[1].Username = strings.Repeat("w", 60)
	cards[2].SignInURL = signIn + "/" + strings.Repeat("district-", 40)
	cards[3].FirstName = strings.Repeat("Ë", 200) // left column
	pdf := writePDF(t, cards, Options{})
	// At 72 dpi a pixel is a point. The strips right of each column, up to
	// the next card's padding, must stay blank but for the cut lines: text
	// that does not fit is shrunk, then clipped at its card's edge.
	base := filepath.Join(t.TempDir(), "page")
	run(t, "pdftoppm", "-png", "-r", "72", "-gray", "-f", "1", "-l", "1", "-singlefile", pdf, base)
	f, err := os.Open(base + ".png")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	const mm = 72 / 25.4
	b := img.Bounds()
	cardH := (float64(b.Dy()) - 20*mm) / rows
	nearCut := func(y int) bool {
		for i := 0; i <= rows; i++ {
			if cut := 10*mm + float64(i)*cardH; float64(y) > cut-3 && float64(y) < cut+3 {
				return true
			}
		}
		return false
	}
	middle := float64(b.Dx()) / 2
	for _, strip := range []struct{ from, to float64 }{
		{middle + 2, middle + 5*mm - 1},                    // between the columns
		{float64(b.Dx()) - 10*mm + 2, float64(b.Dx()) - 1}, // right margin
	} {
		for x := int(strip.from); x < int(strip.to); x++ {
			for y := b.Min.Y; y < b.Max.Y; y++ {
				if nearCut(y) {
					continue
				}
				if g, _, _, _ := img.At(x, y).RGBA(); g < 0x8000 {
					t.Fatalf("dark pixel at (%d, %d) pt, in the blank strip x %.0f–%.0f: text ran past its card", x, y, strip.from, strip.to)
				}
			}
		}
	}
	if got := clip(cards[0].Username); utf8.RuneCountInString(got) != maxTextRunes || !strings.HasSuffix(got, "…") {
		t.Errorf("clip(300 characters) = %q, want %d characters ending in …", got, maxTextRunes)
	}
}

func BenchmarkWrite1000(b *testing.B) {
	var m Measurement
	for b.Loop() {
		var err error
		if m, err = Measure(1000, A4); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(m.Bytes), "pdf-bytes")
	b.ReportMetric(float64(m.Pages), "pages")
}

func TestMeasure(t *testing.T) {
	m, err := Measure(20, Letter)
	if err != nil {
		t.Fatal(err)
	}
	if m.Users != 20 || m.Pages != 3 || m.Bytes < 10_000 || m.Duration <= 0 {
		t.Errorf("Measure(20) = %+v, want 20 users on 3 pages, some bytes and time", m)
	}
}
