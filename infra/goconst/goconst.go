// Package goconst reads a Go package's string constants from its source,
// for tests that hold other files (route tables, templates, the console's
// error texts) to the values the Go code declares, without importing it.
package goconst

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
)

// Strings returns the constants whose names start with prefix, name to
// value, declared in the Go files of dir (not its tests). A matching
// constant that is not a string literal is an error: the caller could not
// check it.
func Strings(dir, prefix string) (map[string]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, fmt.Errorf("goconst: %w", err)
	}
	consts := map[string]string{}
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			return nil, fmt.Errorf("goconst: %w", err)
		}
		for _, decl := range f.Decls {
			gen, ok := decl.(*ast.GenDecl)
			if !ok || gen.Tok != token.CONST {
				continue
			}
			for _, spec := range gen.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, prefix) {
						continue
					}
					var lit *ast.BasicLit
					if i < len(vs.Values) {
						lit, _ = vs.Values[i].(*ast.BasicLit)
					}
					if lit == nil || lit.Kind != token.STRING {
						return nil, fmt.Errorf("goconst: %s: %s is not a string literal", fset.Position(name.Pos()), name.Name)
					}
					if consts[name.Name], err = strconv.Unquote(lit.Value); err != nil {
						return nil, fmt.Errorf("goconst: %s: %w", fset.Position(name.Pos()), err)
					}
				}
			}
		}
	}
	return consts, nil
}
