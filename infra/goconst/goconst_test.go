package goconst

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStrings(t *testing.T) {
	for _, test := range []struct {
		name    string
		files   map[string]string
		want    map[string]string
		wantErr string
	}{
		{
			name: "the prefixed string constants of every file but the tests",
			files: map[string]string{
				"a.go":      "package p\nconst (\n\tFunctionA = \"a\"\n\tOther = \"x\"\n\tFunctionB, FunctionC = `b`, \"c\"\n)\nvar FunctionVar = \"v\"\n",
				"b.go":      "package p\nconst FunctionD = \"d\"\n",
				"b_test.go": "package p\nconst FunctionTest = \"t\"\n",
			},
			want: map[string]string{"FunctionA": "a", "FunctionB": "b", "FunctionC": "c", "FunctionD": "d"},
		},
		{
			name:  "none",
			files: map[string]string{"a.go": "package p\nconst Other = \"x\"\n"},
			want:  map[string]string{},
		},
		{
			name:    "a computed constant cannot be read",
			files:   map[string]string{"a.go": "package p\nconst FunctionA = \"a\" + \"b\"\n"},
			wantErr: "FunctionA is not a string literal",
		},
		{
			name:    "a number is not a string",
			files:   map[string]string{"a.go": "package p\nconst FunctionN = 1\n"},
			wantErr: "FunctionN is not a string literal",
		},
		{
			name:    "an implicit repetition has no literal",
			files:   map[string]string{"a.go": "package p\nconst (\n\tFunctionA = \"a\"\n\tFunctionB\n)\n"},
			wantErr: "FunctionB is not a string literal",
		},
		{
			name:    "a file that does not parse",
			files:   map[string]string{"a.go": "package p\nconst FunctionA = \n"},
			wantErr: "a.go",
		},
	} {
		t.Run(test.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, src := range test.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Strings(dir, "Function")
			if test.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), test.wantErr) {
					t.Fatalf("Strings = %v, %v; want an error containing %q", got, err, test.wantErr)
				}
				return
			}
			if err != nil || !maps.Equal(got, test.want) {
				t.Errorf("Strings = %v, %v; want %v", got, err, test.want)
			}
		})
	}
}
