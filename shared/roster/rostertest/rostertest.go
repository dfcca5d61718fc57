// Package rostertest builds the zip files that roster imports are tested
// with: OneRoster bundles written out file by file, as a district's export
// would hold them.
package rostertest

import (
	"archive/zip"
	"bytes"
	"testing"
)

// Zip builds a zip of files, given as name then content, in that order
// (so that a test can put manifest.csv first or last, as exports differ).
func Zip(t testing.TB, files ...string) []byte {
	t.Helper()
	if len(files)%2 != 0 {
		t.Fatalf("rostertest.Zip: %d arguments, want name and content pairs", len(files))
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i < len(files); i += 2 {
		w, err := zw.Create(files[i])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(files[i+1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
