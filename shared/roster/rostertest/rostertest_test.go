package rostertest

import (
	"archive/zip"
	"bytes"
	"io"
	"testing"
)

func TestZip(t *testing.T) {
	b := Zip(t, "manifest.csv", "propertyName,value\n", "users.csv", "sourcedId\nu1\n")
	r, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"manifest.csv", "propertyName,value\n"}, {"users.csv", "sourcedId\nu1\n"}}
	if len(r.File) != len(want) {
		t.Fatalf("the zip holds %d files, want %d", len(r.File), len(want))
	}
	for i, f := range r.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if f.Name != want[i][0] || string(got) != want[i][1] {
			t.Errorf("file %d = %s %q, want %s %q", i, f.Name, got, want[i][0], want[i][1])
		}
	}
}
