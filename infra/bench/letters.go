package main

import (
	"runtime"
	"time"

	"github.com/rekey/rekey/shared/letters"
)

// benchLetters lays out login letters for n made-up users (names in several
// scripts) on one CPU, as a Lambda of up to 1,769 MB has, and reports the
// time, the size of the PDF and its pages.
func benchLetters(n int) error {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	m, err := letters.Measure(n, letters.A4)
	if err != nil {
		return err
	}
	bench("letters_1000_users_seconds", m.Duration.Seconds()*1000/float64(n), "s")
	bench("letters_1000_users_pdf_bytes", m.Bytes*1000/int64(n), "bytes")
	bench("letters_1000_users_pages", (m.Pages*1000+n-1)/n, "pages")
	note("letters: %d users, %d pages, %d bytes in %s on one CPU (A4, eight cards a page)", n, m.Pages, m.Bytes, m.Duration.Round(time.Millisecond))
	return nil
}
