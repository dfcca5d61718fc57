package console

import (
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rekey/rekey/infra/goconst"
)

// consoleOnlyCodes are codes the console makes up itself, which no server
// answer carries, with where they come from.
var consoleOnlyCodes = map[string]string{
	"network": "api.js, when fetch fails and no answer arrives",
}

// serverErrorCodes parses the Go files of the rekey package (not its tests)
// and returns the value of every ECode… constant: the server's codes.
func serverErrorCodes(t *testing.T, dir string) map[string]bool {
	t.Helper()
	consts, err := goconst.Strings(dir, "ECode")
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]bool{}
	for _, code := range consts {
		codes[code] = true
	}
	if len(codes) == 0 {
		t.Fatalf("no ECode… constants in %s", dir)
	}
	return codes
}

var (
	fallbackTable = regexp.MustCompile(`(?s)const FALLBACK = \{(.*?)\n\};`)
	fallbackKey   = regexp.MustCompile(`(?m)^\s*([a-z0-9_]+)\s*:`)
	preferTable   = regexp.MustCompile(`const PREFER_FALLBACK = new Set\(\[([^\]]*)\]\)`)
	quoted        = regexp.MustCompile(`'([^']*)'`)
	// codeUse is a module naming a code: err.code === 'x', { code: 'x' }.
	codeUse = regexp.MustCompile(`\bcode\s*(?:===|!==|==|!=|:)\s*'([^']*)'`)
)

// consoleCodes returns the codes errors.js has a text for, and every code
// any module names (texts included), with where it is named.
func consoleCodes(t *testing.T, scripts map[string]string) (texts map[string]bool, named map[string][]string) {
	t.Helper()
	texts, named = map[string]bool{}, map[string][]string{}
	errorsJS := scripts["web/assets/errors.js"]
	table := fallbackTable.FindStringSubmatch(errorsJS)
	if table == nil {
		t.Fatal("errors.js: no `const FALLBACK = {…};` table; the test cannot read the texts")
	}
	for _, m := range fallbackKey.FindAllStringSubmatch(table[1], -1) {
		texts[m[1]] = true
		named[m[1]] = append(named[m[1]], "errors.js FALLBACK")
	}
	if m := preferTable.FindStringSubmatch(errorsJS); m != nil {
		for _, q := range quoted.FindAllStringSubmatch(m[1], -1) {
			named[q[1]] = append(named[q[1]], "errors.js PREFER_FALLBACK")
		}
	} else {
		t.Fatal("errors.js: no `const PREFER_FALLBACK = new Set([…])`; the test cannot read it")
	}
	for name, js := range scripts {
		for _, m := range codeUse.FindAllStringSubmatch(js, -1) {
			named[m[1]] = append(named[m[1]], filepath.Base(name))
		}
	}
	if len(texts) == 0 {
		t.Fatal("errors.js: FALLBACK has no texts")
	}
	return texts, named
}

// errorCodeProblems compares the server's codes with the console's: every
// server code needs a text, and every code the console names must be the
// server's or one of consoleOnly.
func errorCodeProblems(server, texts map[string]bool, named map[string][]string, consoleOnly map[string]string) []string {
	var problems []string
	for code := range server {
		if !texts[code] {
			problems = append(problems, "server code "+strconv.Quote(code)+" has no text in errors.js FALLBACK")
		}
		if _, ok := consoleOnly[code]; ok {
			problems = append(problems, "code "+strconv.Quote(code)+" is listed as console-only but the server has it")
		}
	}
	for code, where := range named {
		if _, ok := consoleOnly[code]; !server[code] && !ok {
			problems = append(problems, "the console names "+strconv.Quote(code)+" ("+strings.Join(where, ", ")+"), which is not a server code (shared/rekey ECode…)")
		}
	}
	for code := range consoleOnly {
		if !texts[code] {
			problems = append(problems, "console-only code "+strconv.Quote(code)+" has no text in errors.js FALLBACK")
		}
	}
	sort.Strings(problems)
	return problems
}

// TestErrorCodesHaveTexts keeps errors.js in step with shared/rekey: one
// source of truth for the codes, and words for each of them.
func TestErrorCodesHaveTexts(t *testing.T) {
	server := serverErrorCodes(t, filepath.Join("..", "rekey"))
	texts, named := consoleCodes(t, embedded(t, ".js"))
	for _, p := range errorCodeProblems(server, texts, named, consoleOnlyCodes) {
		t.Error(p)
	}
}

func TestErrorCodeProblems(t *testing.T) {
	set := func(codes ...string) map[string]bool {
		m := map[string]bool{}
		for _, c := range codes {
			m[c] = true
		}
		return m
	}
	only := map[string]string{"network": "fetch failed"}
	for _, test := range []struct {
		name   string
		server map[string]bool
		texts  map[string]bool
		named  map[string][]string
		want   []string
	}{
		{"in step", set("internal", "not_found"), set("internal", "not_found", "network"), map[string][]string{"network": {"api.js"}, "not_found": {"users.js"}}, nil},
		{"a server code without a text", set("internal", "results_too_large"), set("internal", "network"), nil, []string{`server code "results_too_large" has no text`}},
		{"a text for a code the server does not have", set("internal"), set("internal", "network", "gone_code"), map[string][]string{"gone_code": {"errors.js FALLBACK"}}, []string{`the console names "gone_code" (errors.js FALLBACK)`}},
		{"a module compares with an unknown code", set("internal"), set("internal", "network"), map[string][]string{"weak_pasword": {"bulk.js"}}, []string{`the console names "weak_pasword" (bulk.js)`}},
		{"a console-only code the server has", set("internal", "network"), set("internal", "network"), nil, []string{`"network" is listed as console-only but the server has it`}},
		{"a console-only code without a text", set("internal"), set("internal"), nil, []string{`console-only code "network" has no text`}},
	} {
		t.Run(test.name, func(t *testing.T) {
			got := errorCodeProblems(test.server, test.texts, test.named, only)
			if len(got) != len(test.want) {
				t.Fatalf("errorCodeProblems = %q, want %d problems like %q", got, len(test.want), test.want)
			}
			for i, want := range test.want {
				if !strings.Contains(got[i], want) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], want)
				}
			}
		})
	}
}

// TestConsoleCodesReadsTheTables checks the parsing on a small errors.js,
// so that a change of its layout cannot make the comparison vacuous.
func TestConsoleCodesReadsTheTables(t *testing.T) {
	scripts := map[string]string{
		"web/assets/errors.js": "const FALLBACK = {\n  internal: 'x',\n  weak_password:\n    'y: z',\n};\nconst PREFER_FALLBACK = new Set(['internal', 'csrf_failed']);\n",
		"web/assets/users.js":  "if (err.code === 'invalid_cursor') {}\ndescribe({ code: 'unauthenticated' });\nconst x = { label: 'code: nope' };\n",
	}
	texts, named := consoleCodes(t, scripts)
	if got, want := strings.Join(sortedKeys(texts), ","), "internal,weak_password"; got != want {
		t.Errorf("texts = %s, want %s", got, want)
	}
	if got, want := strings.Join(sortedKeys(named), ","), "csrf_failed,internal,invalid_cursor,unauthenticated,weak_password"; got != want {
		t.Errorf("named = %s, want %s", got, want)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
