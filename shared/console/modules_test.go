package console

import (
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// moduleRole is what a module of web/assets is, for the import rules that
// keep the console's modules apart (STYLE.md: a screen imports shared
// modules, never another screen; no import cycles).
type moduleRole string

const (
	// shell is the router (app.js): it draws the menu and loads screens.
	// It is the one module that may import screens, and no module imports it.
	shell moduleRole = "shell"
	// screen draws a page or a dialog of its own (a route, the sign-in,
	// the public pages, the record editor, one user's reset).
	screen moduleRole = "screen"
	// shared is what screens are built from (dom, form, api, format, ...).
	// It imports only other shared modules.
	shared moduleRole = "shared"
)

// moduleRoles classifies every module. A module missing here fails
// TestModuleBoundaries, so a new file must be given a role; and the rules
// in moduleProblems recognise screens by what they do (export mount or
// render…, are loaded by a page, are loaded by the shell with import()),
// so a screen listed as shared fails too.
var moduleRoles = map[string]moduleRole{
	"app.js": shell,

	"account.js":   screen,
	"children.js":  screen,
	"activity.js":  screen,
	"bulk.js":      screen,
	"editor.js":    screen,
	"public.js":    screen,
	"schedules.js": screen,
	"settings.js":  screen,
	"signin.js":    screen,
	"tasks.js":     screen,
	"imports.js":   screen,
	"newuser.js":   screen,
	"userreset.js": screen,
	"users.js":     screen,

	"api.js":             shared,
	"bulkform.js":        shared,
	"changepassword.js":  shared,
	"dialog.js":          shared,
	"dom.js":             shared,
	"errors.js":          shared,
	"form.js":            shared,
	"format.js":          shared,
	"grades.js":          shared,
	"menu.js":            shared,
	"schedulebuilder.js": shared,
	"selection.js":       shared,
	"preview.js":         shared,
	"approvals.js":       shared,
	"zones.js":           shared,
}

// moduleImport is one import of a module: static (import … from, export
// … from) or dynamic (import()).
type moduleImport struct {
	target  string // module name relative to the assets folder
	dynamic bool
}

var (
	staticImport  = regexp.MustCompile(`(?m)^\s*(?:import|export)\s[^;'"]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]`)
	dynamicImport = regexp.MustCompile(`\bimport\s*\(\s*(?:['"]([^'"]+)['"]\s*\))?`)
	// screenExport is an export only a screen has: the router's mount, or
	// a render… function that draws a whole page.
	screenExport = regexp.MustCompile(`(?m)^export\s+(?:async\s+)?function\s+(mount|render[A-Z]\w*)\s*\(`)
	pageScript   = regexp.MustCompile(`<script\b[^>]*\bsrc="\{\{ASSETS\}\}/([^"]+)"`)
	jsComment    = regexp.MustCompile(`(?s:/\*.*?\*/)|(?m:^\s*//.*$)`)
)

// moduleImports lists the relative imports of one module's source.
func moduleImports(name, src string) []moduleImport {
	src = jsComment.ReplaceAllString(src, "")
	var out []moduleImport
	add := func(spec string, dynamic bool) {
		if !strings.HasPrefix(spec, "./") && !strings.HasPrefix(spec, "../") {
			return // not one of ours (the check of other origins is elsewhere)
		}
		out = append(out, moduleImport{target: path.Join(path.Dir(name), spec), dynamic: dynamic})
	}
	for _, m := range staticImport.FindAllStringSubmatch(src, -1) {
		add(m[1]+m[2], false)
	}
	for _, m := range dynamicImport.FindAllStringSubmatch(src, -1) {
		if m[1] == "" {
			// import(expression): the rules cannot see what it loads.
			out = append(out, moduleImport{target: "", dynamic: true})
			continue
		}
		add(m[1], true)
	}
	return out
}

// moduleProblems checks the modules (name → source, names relative to the
// assets folder) against roles and the pages' script tags (page → HTML),
// and returns every broken rule, sorted.
func moduleProblems(modules, pages map[string]string, roles map[string]moduleRole) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	for name := range roles {
		if _, ok := modules[name]; !ok {
			add("%s has a role but no file: remove it from moduleRoles", name)
		}
	}
	graph := map[string][]moduleImport{}
	for name, src := range modules {
		role, ok := roles[name]
		if !ok {
			add("%s has no role: add it to moduleRoles as shell, screen or shared", name)
		}
		if m := screenExport.FindStringSubmatch(src); m != nil && role != screen && role != shell {
			add("%s exports %s, which only a screen does, but its role is %q", name, m[1], role)
		}
		graph[name] = moduleImports(name, src)
		for _, imp := range graph[name] {
			to := roles[imp.target]
			switch {
			case imp.target == "":
				add("%s calls import() with something other than a string: name the module, so the rules can check it", name)
			case to == shell:
				add("%s imports the shell %s", name, imp.target)
			case role == shell && imp.dynamic && to != screen:
				add("the shell loads %s with import(), which only screens are loaded with, but its role is %q", imp.target, to)
			case role == screen && to == screen:
				add("screen %s imports screen %s: move what they share to a shared module, or let the shell hand it over", name, imp.target)
			case role == shared && to == screen:
				add("shared module %s imports screen %s", name, imp.target)
			}
		}
	}
	for page, html := range pages {
		for _, m := range pageScript.FindAllStringSubmatch(html, -1) {
			if r := roles[m[1]]; r != shell && r != screen {
				add("%s runs %s, which a page may run only as the shell or a screen, but its role is %q", page, m[1], r)
			}
		}
	}
	for _, cycle := range importCycles(graph) {
		add("import cycle: %s", strings.Join(cycle, " → "))
	}
	sort.Strings(problems)
	return problems
}

// importCycles returns one cycle through each strongly tied group of
// modules, following static and dynamic imports alike (a dynamic import
// still makes two modules depend on each other).
func importCycles(graph map[string][]moduleImport) [][]string {
	names := make([]string, 0, len(graph))
	for name := range graph {
		names = append(names, name)
	}
	sort.Strings(names)
	const (
		unvisited = iota
		onPath
		done
	)
	state := map[string]int{}
	var stack []string
	var cycles [][]string
	var visit func(string)
	visit = func(name string) {
		state[name] = onPath
		stack = append(stack, name)
		for _, imp := range graph[name] {
			switch state[imp.target] {
			case onPath:
				start := slices.Index(stack, imp.target)
				cycles = append(cycles, append(slices.Clone(stack[start:]), imp.target))
			case unvisited:
				if _, ok := graph[imp.target]; ok {
					visit(imp.target)
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
	}
	for _, name := range names {
		if state[name] == unvisited {
			visit(name)
		}
	}
	return cycles
}

// TestModuleBoundaries holds the embedded console to the import rules.
func TestModuleBoundaries(t *testing.T) {
	modules := map[string]string{}
	for name, src := range embedded(t, ".js") {
		rel, ok := strings.CutPrefix(name, "web/assets/")
		if !ok {
			t.Errorf("%s is a module outside web/assets", name)
			continue
		}
		modules[rel] = src
	}
	for _, p := range moduleProblems(modules, embedded(t, ".html"), moduleRoles) {
		t.Error(p)
	}
}

// TestModuleProblems proves that the rules catch what they are for.
func TestModuleProblems(t *testing.T) {
	roles := map[string]moduleRole{
		"app.js": shell, "users.js": screen, "editor.js": screen, "bulk.js": screen,
		"dom.js": shared, "form.js": shared, "grades.js": shared,
	}
	clean := map[string]string{
		"app.js":    "import { h } from './dom.js';\nconst R = { users: () => import('./users.js'), bulk: () => import('./bulk.js') };\nconst D = { edit: () => import('./editor.js') };\n",
		"users.js":  "import { h } from './dom.js';\nimport { GRADES } from './grades.js';\nexport function mount(main, ctx) {}\n",
		"editor.js": "import { field } from './form.js';\nimport { GRADES } from './grades.js';\nexport function openEditor(id) {}\n",
		"bulk.js":   "import {\n  field,\n} from './form.js';\nexport async function mount(main, ctx) {}\n",
		"dom.js":    "export function h() {}\n",
		"form.js":   "import { h } from './dom.js';\nexport function field() {}\n",
		"grades.js": "export const GRADES = ['K'];\n",
	}
	page := map[string]string{"web/index.html": `<script type="module" src="{{ASSETS}}/app.js"></script>`}
	// with is clean with some modules replaced (name, source, …); an
	// empty source removes the module.
	with := func(pairs ...string) map[string]string {
		m := maps.Clone(clean)
		for i := 0; i < len(pairs); i += 2 {
			if pairs[i+1] == "" {
				delete(m, pairs[i])
			} else {
				m[pairs[i]] = pairs[i+1]
			}
		}
		return m
	}
	for _, test := range []struct {
		name    string
		modules map[string]string
		pages   map[string]string
		want    []string // substrings, one per expected problem
	}{
		{"clean", clean, page, nil},
		{"comments are not imports", with("users.js", clean["users.js"]+"// see import('./editor.js')\n/* import { x } from './bulk.js'; */\n"), page, nil},
		{
			"screen imports a screen statically",
			with("bulk.js", "import { GRADES } from './users.js';\nexport function mount() {}\n"), page,
			[]string{"screen bulk.js imports screen users.js"},
		},
		{
			"screen imports a screen with import()",
			with("users.js", "import { h } from './dom.js';\nexport function mount() { import('./editor.js').then((m) => m.openEditor()); }\n"),
			page,
			[]string{"screen users.js imports screen editor.js"},
		},
		{
			"cycle through a dynamic import (users.js ↔ editor.js as it was)",
			with(
				"users.js", "export const GRADES = ['K'];\nexport function mount() { const { openEditor } = await import('./editor.js'); }\n",
				"editor.js", "import { GRADES } from './users.js';\nexport function openEditor() {}\n",
			),
			page,
			[]string{"import cycle: users.js → editor.js → users.js", "screen editor.js imports screen users.js", "screen users.js imports screen editor.js"},
		},
		{
			"import() of an expression",
			with("users.js", "const name = './editor.js';\nexport function mount() { import(name); }\n"),
			page,
			[]string{"users.js calls import() with something other than a string"},
		},
		{
			"side-effect import of the shell",
			with("dom.js", "import './app.js';\nexport function h() {}\n"),
			page,
			[]string{"dom.js imports the shell app.js", "import cycle: app.js → dom.js → app.js"},
		},
		{
			"cycle between shared modules",
			with("dom.js", "import { field } from './form.js';\nexport function h() {}\n"), page,
			[]string{"import cycle: dom.js → form.js → dom.js"},
		},
		{
			"re-export from a screen",
			with("form.js", "export { mount } from './users.js';\n"), page,
			[]string{"shared module form.js imports screen users.js"},
		},
		{
			"a module imports the shell",
			with("users.js", "import { parseHash } from './app.js';\nexport function mount() {}\n"), page,
			[]string{"import cycle: app.js → users.js → app.js", "users.js imports the shell app.js"},
		},
		{
			"a new module without a role",
			with("who.js", "export function buildWho() {}\n"), page,
			[]string{"who.js has no role"},
		},
		{
			"a role without a file",
			with("grades.js", ""), page,
			[]string{"grades.js has a role but no file"},
		},
		{
			"a screen listed as shared (exports mount)",
			with("dom.js", "export function h() {}\nexport function mount() {}\n"), page,
			[]string{"dom.js exports mount"},
		},
		{
			"a screen listed as shared (exports render…)",
			with("grades.js", "export function renderGrades(root) {}\n"), page,
			[]string{"grades.js exports renderGrades"},
		},
		{
			"a screen listed as shared (the shell loads it with import())",
			with("app.js", clean["app.js"]+"const X = () => import('./form.js');\n"), page,
			[]string{"the shell loads form.js with import()"},
		},
		{
			"a page runs a shared module",
			clean, map[string]string{"web/x.html": `<script type="module" src="{{ASSETS}}/form.js"></script>`},
			[]string{"web/x.html runs form.js"},
		},
	} {
		t.Run(test.name, func(t *testing.T) {
			got := moduleProblems(test.modules, test.pages, roles)
			if len(got) != len(test.want) {
				t.Fatalf("moduleProblems = %q, want %d problems like %q", got, len(test.want), test.want)
			}
			for i, want := range test.want {
				if !strings.Contains(got[i], want) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], want)
				}
			}
		})
	}
}
