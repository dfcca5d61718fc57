// Package letters prints login letters: one card per user with name,
// school, grade, username, the generated password if there is one, the
// sign-in address and a QR code of that address (never of the password),
// eight cards a page with dashed cut lines, as a PDF.
//
// Names come from imports and may be in any script, so the fonts are
// embedded (DejaVu Sans for Latin, Greek, Cyrillic, Hebrew and Arabic;
// Droid Sans Fallback for Chinese, Japanese and Korean), Arabic is shaped
// and right-to-left names are put in visual order here, since the PDF
// library draws glyphs one by one, left to right. Text is drawn as text,
// never interpreted: a name such as "=1+1" or "<script>" prints as typed.
package letters
