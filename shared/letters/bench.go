package letters

import (
	"fmt"
	"io"
	"time"
)

// Measurement is what one run of Measure found.
type Measurement struct {
	Users    int
	Pages    int
	Bytes    int64
	Duration time.Duration
}

// Measure lays out and writes letters for n made-up users (names in
// several scripts, a generated password each, one sign-in address) to
// io.Discard, and reports pages, bytes and time, for the BENCH lines of
// infra/bench and for BenchmarkWrite.
func Measure(n int, size PageSize) (Measurement, error) {
	cards := SampleCards(n)
	start := time.Now()
	doc, err := render(cards, Options{PageSize: size}, encodeQR)
	if err != nil {
		return Measurement{}, err
	}
	var out countingWriter
	if err := doc.Output(&out); err != nil {
		return Measurement{}, fmt.Errorf("letters: write pdf: %w", err)
	}
	return Measurement{Users: n, Pages: doc.PageNo(), Bytes: out.n, Duration: time.Since(start)}, nil
}

// SampleCards makes n cards of made-up users spread over three schools
// and grades K to 12, with names in Latin (with accents), Greek, Cyrillic,
// Hebrew, Arabic and CJK scripts.
func SampleCards(n int) []Card {
	first := []string{"Zoë", "Ελένη", "Юлия", "דוד", "محمد", "小明", "José", "Åsa", "Nguyễn", "Amélie", "Łukasz", "Siobhán"}
	last := []string{"Ørsted", "Παπαδοπούλου", "Смирнова", "כהן", "العلي", "王", "García", "Müller", "Thị", "Dubois", "Wiśniewski", "O'Brien"}
	schools := []string{"Lincoln Elementary", "Escuela Cervantes", "North High School"}
	grades := []string{"K", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"}
	cards := make([]Card, n)
	for i := range cards {
		cards[i] = Card{
			FirstName: first[i%len(first)],
			LastName:  last[(i/len(first))%len(last)],
			School:    schools[i%len(schools)],
			Grade:     grades[i%len(grades)],
			Username:  fmt.Sprintf("student%05d", i),
			Password:  fmt.Sprintf("frog-%d-lamp%d", 10+i%90, i%10),
			SignInURL: "https://rekey.example.org/sign-in",
		}
	}
	return cards
}

// countingWriter counts the bytes written to it and drops them.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return io.Discard.Write(p)
}
