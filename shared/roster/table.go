package roster

import (
	"archive/zip"
	"bufio"
	"compress/flate"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"unicode/utf8"
)

// errTooLarge ends reading when Limits.MaxBytes is passed.
var errTooLarge = errors.New("roster: over the byte limit")

// budget is the uncompressed bytes still allowed, shared by the files of
// one bundle.
// err is the first failure to read the underlying file (not a problem of
// its content), which the reader returns as its error.
type budget struct {
	left, limit int64
	err         error
}

func newBudget(limit int64) *budget { return &budget{left: limit, limit: limit} }

// limitedReader reads from r until the budget is spent, then fails with
// errTooLarge (unlike io.LimitReader, which would end the file quietly).
type limitedReader struct {
	r io.Reader
	b *budget
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.b.left <= 0 {
		// One byte more tells a file that ends exactly at the limit
		// from one that goes on.
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			return 0, errTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.b.left {
		p = p[:l.b.left]
	}
	n, err := l.r.Read(p)
	l.b.left -= int64(n)
	return n, err
}

// table reads one CSV file record by record, by column name.
type table struct {
	file    string
	r       *csv.Reader
	src     *limitedReader
	index   map[string]int // column name (as the format spells it) → position
	width   int            // cells in the header
	record  []string
	row     int // spreadsheet row of record: 1 is the header
	issues  *issues
	stopped bool
}

// utf8BOM starts files saved by Excel as "CSV UTF-8".
const utf8BOM = "\xef\xbb\xbf"

// openTable reads the header of file. columns are the names the format
// defines (matched case-insensitively); used says which of them Rekey
// reads (the others are listed as ignored, known); required must be
// present. It returns nil after adding an issue when the file cannot be
// read as a table, and the ignored columns.
func openTable(file string, r io.Reader, b *budget, columns []string, used, required map[string]bool, is *issues) (*table, []Column) {
	src := &limitedReader{r: r, b: b}
	br := bufio.NewReaderSize(src, 64<<10)
	head, _ := br.Peek(3)
	switch {
	case strings.HasPrefix(string(head), utf8BOM):
		br.Discard(len(utf8BOM))
	case strings.HasPrefix(string(head), "\xff\xfe"), strings.HasPrefix(string(head), "\xfe\xff"):
		is.add(file, 0, "", CodeInvalidEncoding, "%s is saved as UTF-16 (\"Unicode text\"). Save it as \"CSV UTF-8 (Comma delimited)\" and upload it again.", file)
		return nil, nil
	}
	t := &table{file: file, r: csv.NewReader(br), src: src, index: map[string]int{}, issues: is}
	t.r.ReuseRecord = true
	header, ok := t.next()
	if !ok {
		if !t.stopped {
			is.add(file, 0, "", CodeMissingColumn, "%s is empty: it needs a header row.", file)
		}
		return nil, nil
	}
	t.width = len(header)
	canonical := map[string]string{}
	for _, c := range columns {
		canonical[strings.ToLower(c)] = c
	}
	var ignored []Column
	for i, cell := range header {
		name := strings.TrimSpace(cell)
		c, known := canonical[strings.ToLower(name)]
		if !known {
			if name != "" {
				ignored = append(ignored, Column{File: file, Column: name})
			}
			continue
		}
		if _, dup := t.index[c]; dup {
			is.add(file, 1, c, CodeDuplicateColumn, "The column %s appears twice in the header of %s.", c, file)
			return nil, ignored
		}
		t.index[c] = i
		if !used[c] {
			ignored = append(ignored, Column{File: file, Column: c, Known: true})
		}
	}
	missing := false
	for _, c := range columns {
		if _, ok := t.index[c]; required[c] && !ok {
			is.add(file, 1, c, CodeMissingColumn, "%s has no %s column; the header needs it.", file, c)
			missing = true
		}
	}
	if missing {
		return nil, ignored
	}
	return t, ignored
}

// next reads the next record. It returns false at the end of the file
// and when the file cannot be read further (an issue is then added and
// stopped set): a quote error, text that is not UTF-8, or the byte limit.
// A record with the wrong number of cells is an issue of its row; reading
// goes on.
func (t *table) next() ([]string, bool) {
	for !t.stopped {
		rec, err := t.r.Read()
		if err == io.EOF {
			return nil, false
		}
		t.row++
		var parseErr *csv.ParseError
		switch {
		case errors.Is(err, errTooLarge):
			t.issues.add(t.file, 0, "", CodeTooLarge, "The files are too large to import at once (over %d MB uncompressed). Split the roster into smaller files.", t.src.b.limit>>20)
			t.stopped = true
			return nil, false
		case errors.As(err, &parseErr) && errors.Is(err, csv.ErrFieldCount):
			t.issues.add(t.file, t.row, "", CodeInvalidCSV, "This row has %d cells; the header has %d.", len(rec), t.width)
			continue
		case errors.Is(err, zip.ErrChecksum) || errors.Is(err, io.ErrUnexpectedEOF) || isCorrupt(err):
			t.issues.add(t.file, 0, "", CodeNotAZip, "%s is damaged in the zip (%v). Export the bundle again.", t.file, err)
			t.stopped = true
			return nil, false
		case err != nil && parseErr == nil:
			t.src.b.err = fmt.Errorf("roster: read %s: %w", t.file, err)
			t.stopped = true
			return nil, false
		case err != nil:
			t.issues.add(t.file, t.row, "", CodeInvalidCSV, "%s cannot be read as CSV here (%v). Check the quotes in this row.", t.file, unwrapCSV(err))
			t.stopped = true
			return nil, false
		}
		for _, cell := range rec {
			if !utf8.ValidString(cell) {
				t.issues.add(t.file, t.row, "", CodeInvalidEncoding, "%s is not UTF-8 text (first seen in this row); it looks like a file saved as Windows-1252 (ANSI). Save it as \"CSV UTF-8 (Comma delimited)\" and upload it again.", t.file)
				t.stopped = true
				return nil, false
			}
		}
		t.record = rec
		return rec, true
	}
	return nil, false
}

// records iterates over the records of t until the end or a stop.
func (t *table) records() iter.Seq[[]string] {
	return func(yield func([]string) bool) {
		for {
			rec, ok := t.next()
			if !ok || !yield(rec) {
				return
			}
		}
	}
}

// isCorrupt reports a deflate stream that is not one.
func isCorrupt(err error) bool {
	var ce flate.CorruptInputError
	return errors.As(err, &ce)
}

// unwrapCSV is the reason of a csv.ParseError without its position, which
// the issue's row already gives.
func unwrapCSV(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// get returns the trimmed cell of column c in the current record, "" when
// the file has no such column.
func (t *table) get(c string) string {
	i, ok := t.index[c]
	if !ok || i >= len(t.record) {
		return ""
	}
	return strings.TrimSpace(t.record[i])
}

// has reports whether the file has column c.
func (t *table) has(c string) bool {
	_, ok := t.index[c]
	return ok
}

// list splits a cell holding a comma-separated list (orgSourcedIds,
// agentSourcedIds, grades), dropping blanks.
func list(cell string) []string {
	if cell == "" {
		return nil
	}
	parts := strings.Split(cell, ",")
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
