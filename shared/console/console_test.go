package console

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, method, target string, header map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return string(b)
}

func testHandler(t *testing.T) *handler {
	t.Helper()
	h, err := newHandler(webFiles)
	if err != nil {
		t.Fatalf("newHandler(webFiles) error: %v", err)
	}
	return h
}

func TestPages(t *testing.T) {
	h := testHandler(t)
	for _, test := range []struct {
		path        string
		status      int
		contentType string
		cache       string
		referrer    string
		contains    string
	}{
		{"/", 200, "text/html; charset=utf-8", "no-cache", "", `id="app"`},
		{"/forgot-password", 200, "text/html; charset=utf-8", "no-cache", "", `id="forgot-form"`},
		{"/guardian-register", 200, "text/html; charset=utf-8", "no-cache", "", `id="register-form"`},
		{"/reset-password", 200, "text/html; charset=utf-8", "no-cache", "no-referrer", `id="newpw-form"`},
		{"/reset-password?token=abc", 200, "text/html; charset=utf-8", "no-cache", "no-referrer", `id="newpw-form"`},
		{"/index.html", 404, "text/html; charset=utf-8", "no-cache", "", "Page not found"},
		{"/nope", 404, "text/html; charset=utf-8", "no-cache", "", "Page not found"},
		{"/assets/app.js", 404, "text/html; charset=utf-8", "no-cache", "", "Page not found"},
		{"/assets/0123456789ab/app.js", 404, "text/html; charset=utf-8", "no-cache", "", "Page not found"},
		{"/assets/" + h.version + "/nope.js", 404, "text/html; charset=utf-8", "no-cache", "", "Page not found"},
		{"/assets/" + h.version + "/../index.html", 404, "text/html; charset=utf-8", "no-cache", "", "Page not found"},
		{"/assets/" + h.version + "/app.js", 200, "text/javascript; charset=utf-8", cacheImmutable, "", "boot()"},
		{"/assets/" + h.version + "/app.css", 200, "text/css; charset=utf-8", cacheImmutable, "", ":root"},
		{"/assets/" + h.version + "/icon.svg", 200, "image/svg+xml", cacheImmutable, "", "<svg"},
	} {
		t.Run(test.path, func(t *testing.T) {
			res := get(t, h, http.MethodGet, test.path, nil)
			got := body(t, res)
			if res.StatusCode != test.status {
				t.Errorf("GET %s status = %d, want %d", test.path, res.StatusCode, test.status)
			}
			if ct := res.Header.Get("Content-Type"); ct != test.contentType {
				t.Errorf("GET %s Content-Type = %q, want %q", test.path, ct, test.contentType)
			}
			if cc := res.Header.Get("Cache-Control"); cc != test.cache {
				t.Errorf("GET %s Cache-Control = %q, want %q", test.path, cc, test.cache)
			}
			if rp := res.Header.Get("Referrer-Policy"); rp != test.referrer {
				t.Errorf("GET %s Referrer-Policy = %q, want %q", test.path, rp, test.referrer)
			}
			if nosniff := res.Header.Get("X-Content-Type-Options"); nosniff != "nosniff" {
				t.Errorf("GET %s X-Content-Type-Options = %q, want nosniff", test.path, nosniff)
			}
			if !strings.Contains(got, test.contains) {
				t.Errorf("GET %s body does not contain %q", test.path, test.contains)
			}
		})
	}
}

// TestPagesShareTheLayout: every page is rendered into web/layout.html
// with its own title, data-page and scripts; the reset page says
// no-referrer before it fetches anything.
func TestPagesShareTheLayout(t *testing.T) {
	h := testHandler(t)
	for _, test := range []struct {
		path, title, dataPage, script string
	}{
		{"/", "Rekey", "", "app.js"},
		{"/forgot-password", "Forgot your password — Rekey", "forgot", "public.js"},
		{"/guardian-register", "Parent and guardian sign-up — Rekey", "register", "public.js"},
		{"/reset-password", "Choose a new password — Rekey", "reset", "public.js"},
		{"/nope", "Page not found — Rekey", "not-found", ""},
	} {
		t.Run(test.path, func(t *testing.T) {
			html := body(t, get(t, h, http.MethodGet, test.path, nil))
			if !strings.HasPrefix(html, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n") {
				t.Errorf("GET %s does not start with the layout's head:\n%.200s", test.path, html)
			}
			if got := strings.Count(html, "<title>"); got != 1 || !strings.Contains(html, "<title>"+test.title+"</title>") {
				t.Errorf("GET %s: want one <title>%s</title>", test.path, test.title)
			}
			if test.dataPage != "" && !strings.Contains(html, `<body data-page="`+test.dataPage+`">`) {
				t.Errorf("GET %s: no body with data-page %q", test.path, test.dataPage)
			}
			scripts := regexp.MustCompile(`<script type="module" src="/assets/[^/]+/([^"]+)"></script>`).FindAllStringSubmatch(html, -1)
			var got []string
			for _, m := range scripts {
				got = append(got, m[1])
			}
			if want := strings.Fields(test.script); !slices.Equal(got, want) {
				t.Errorf("GET %s runs %v, want %v", test.path, got, want)
			}
			if strings.Count(html, `class="card narrow"`) != 1 || !strings.HasSuffix(html, "</body>\n</html>\n") {
				t.Errorf("GET %s is not one card in a whole document:\n%s", test.path, html)
			}
		})
	}
	reset := body(t, get(t, h, http.MethodGet, "/reset-password", nil))
	if meta, link := strings.Index(reset, `<meta name="referrer" content="no-referrer">`), strings.Index(reset, "<link"); meta < 0 || meta > link {
		t.Errorf("the reset page's no-referrer meta is at %d, want it before the first link (%d)", meta, link)
	}
}

func TestPagesReferenceCurrentAssets(t *testing.T) {
	h := testHandler(t)
	assetRef := regexp.MustCompile(`(?:href|src)="(/assets/[^"]+)"`)
	for _, page := range []string{"/", "/forgot-password", "/reset-password", "/missing"} {
		html := body(t, get(t, h, http.MethodGet, page, nil))
		if strings.Contains(html, assetPrefix) {
			t.Errorf("GET %s still holds the %s placeholder", page, assetPrefix)
		}
		refs := assetRef.FindAllStringSubmatch(html, -1)
		if len(refs) == 0 {
			t.Errorf("GET %s references no assets", page)
		}
		for _, ref := range refs {
			if !strings.HasPrefix(ref[1], "/assets/"+h.version+"/") {
				t.Errorf("GET %s references %s, want the version %s", page, ref[1], h.version)
			}
			if res := get(t, h, http.MethodGet, ref[1], nil); res.StatusCode != http.StatusOK {
				t.Errorf("GET %s (from %s) status = %d, want 200", ref[1], page, res.StatusCode)
			}
		}
	}
}

func TestGzip(t *testing.T) {
	h := testHandler(t)
	for _, target := range []string{"/", "/reset-password", "/assets/" + h.version + "/app.js", "/assets/" + h.version + "/app.css", "/nope"} {
		t.Run(target, func(t *testing.T) {
			plain := get(t, h, http.MethodGet, target, nil)
			plainBody := body(t, plain)
			if ce := plain.Header.Get("Content-Encoding"); ce != "" {
				t.Errorf("GET %s without Accept-Encoding: Content-Encoding = %q, want none", target, ce)
			}
			zipped := get(t, h, http.MethodGet, target, map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
			if ce := zipped.Header.Get("Content-Encoding"); ce != "gzip" {
				t.Fatalf("GET %s with gzip accepted: Content-Encoding = %q, want gzip", target, ce)
			}
			if vary := zipped.Header.Get("Vary"); vary != "Accept-Encoding" {
				t.Errorf("GET %s Vary = %q, want Accept-Encoding", target, vary)
			}
			zr, err := gzip.NewReader(zipped.Body)
			if err != nil {
				t.Fatalf("GET %s: gzip.NewReader: %v", target, err)
			}
			unzipped, err := io.ReadAll(zr)
			if err != nil {
				t.Fatalf("GET %s: gunzip: %v", target, err)
			}
			if string(unzipped) != plainBody {
				t.Errorf("GET %s: gunzipped body differs from the plain body", target)
			}
			if plain.Header.Get("ETag") == zipped.Header.Get("ETag") && plain.StatusCode == 200 {
				t.Errorf("GET %s: the gzip and plain bodies share the ETag %s", target, plain.Header.Get("ETag"))
			}
		})
	}
}

func TestAcceptsGzip(t *testing.T) {
	for _, test := range []struct {
		header string
		want   bool
	}{
		{"", false},
		{"gzip", true},
		{"GZIP", true},
		{"deflate, gzip;q=1.0, *;q=0.5", true},
		{"gzip;q=0", false},
		{"gzip; q=0.000", false},
		{"gzip;q=0, *", false},
		{"*", true},
		{"*;q=0", false},
		{"br, deflate", false},
		{"identity", false},
		{"x-gzip", true},
	} {
		if got := AcceptsGzip(test.header); got != test.want {
			t.Errorf("AcceptsGzip(%q) = %v, want %v", test.header, got, test.want)
		}
	}
}

func TestConditionalAndHead(t *testing.T) {
	h := testHandler(t)
	target := "/assets/" + h.version + "/app.js"
	first := get(t, h, http.MethodGet, target, map[string]string{"Accept-Encoding": "gzip"})
	etag := first.Header.Get("ETag")
	if etag == "" {
		t.Fatalf("GET %s: no ETag", target)
	}
	again := get(t, h, http.MethodGet, target, map[string]string{"Accept-Encoding": "gzip", "If-None-Match": `"x", ` + etag})
	if again.StatusCode != http.StatusNotModified {
		t.Errorf("GET %s with If-None-Match %s: status = %d, want 304", target, etag, again.StatusCode)
	}
	if b := body(t, again); b != "" {
		t.Errorf("304 response has a body of %d bytes", len(b))
	}
	head := get(t, h, http.MethodHead, "/", nil)
	if head.StatusCode != http.StatusOK || body(t, head) != "" {
		t.Errorf("HEAD / = %d with a body, want 200 without one", head.StatusCode)
	}
	if head.Header.Get("Content-Length") == "" {
		t.Error("HEAD / has no Content-Length")
	}
}

func TestMethodNotAllowed(t *testing.T) {
	h := testHandler(t)
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		res := get(t, h, method, "/", nil)
		if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s / = %d Allow %q, want 405 Allow \"GET, HEAD\"", method, res.StatusCode, res.Header.Get("Allow"))
		}
	}
}

func TestVersionFollowsContent(t *testing.T) {
	files := fstest.MapFS{}
	if err := fs.WalkDir(webFiles, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(webFiles, p)
		files[p] = &fstest.MapFile{Data: b}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	before, err := newHandler(files)
	if err != nil {
		t.Fatal(err)
	}
	files["web/assets/app.css"] = &fstest.MapFile{Data: append(bytes.Clone(files["web/assets/app.css"].Data), "\n/* changed */\n"...)}
	after, err := newHandler(files)
	if err != nil {
		t.Fatal(err)
	}
	if before.version == after.version {
		t.Errorf("version stayed %s after an asset changed", before.version)
	}
	if before.version != testHandler(t).version {
		t.Errorf("version of a copy = %s, want %s", before.version, testHandler(t).version)
	}
	files["web/assets/notes.xyz"] = &fstest.MapFile{Data: []byte("?")}
	if _, err := newHandler(files); err == nil {
		t.Error("newHandler with an asset of unknown type: no error, want one")
	}
}

// embedded returns every embedded file whose name ends with ext.
func embedded(t *testing.T, ext string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := fs.WalkDir(webFiles, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ext {
			return err
		}
		b, err := fs.ReadFile(webFiles, p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no embedded %s files", ext)
	}
	return out
}

// TestHTMLHasNoInlineCode keeps the pages compatible with a strict CSP:
// scripts only from files, no event-handler or style attributes, no
// javascript: URLs.
func TestHTMLHasNoInlineCode(t *testing.T) {
	script := regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script\s*>`)
	tag := regexp.MustCompile(`(?s)<[a-zA-Z][^>]*>`)
	forbiddenAttr := regexp.MustCompile(`(?i)\s(on[a-z]+|style)\s*=`)
	for name, html := range embedded(t, ".html") {
		for _, m := range script.FindAllStringSubmatch(html, -1) {
			if !strings.Contains(m[1], "src=") || strings.TrimSpace(m[2]) != "" {
				t.Errorf("%s has an inline script: %.80q", name, m[0])
			}
		}
		if strings.Count(strings.ToLower(html), "<script") != len(script.FindAllString(html, -1)) {
			t.Errorf("%s has a <script> tag the check could not parse", name)
		}
		for _, m := range tag.FindAllString(html, -1) {
			if forbiddenAttr.MatchString(m) {
				t.Errorf("%s has an inline handler or style attribute: %s", name, m)
			}
		}
		if strings.Contains(strings.ToLower(html), "javascript:") {
			t.Errorf("%s has a javascript: URL", name)
		}
		if strings.Contains(strings.ToLower(html), "<style") {
			t.Errorf("%s has an inline <style> block", name)
		}
		if strings.Contains(html, "//") && regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).MatchString(html) {
			t.Errorf("%s loads something from another origin", name)
		}
	}
}

// TestJavaScriptAvoidsUnsafeSinks keeps user data out of HTML parsing and
// code evaluation, and the session's secrets out of localStorage.
func TestJavaScriptAvoidsUnsafeSinks(t *testing.T) {
	forbidden := []*regexp.Regexp{
		regexp.MustCompile(`\.innerHTML\b`),
		regexp.MustCompile(`\.outerHTML\b`),
		regexp.MustCompile(`insertAdjacentHTML`),
		regexp.MustCompile(`document\.write`),
		regexp.MustCompile(`\beval\s*\(`),
		regexp.MustCompile(`new\s+Function\b`),
		regexp.MustCompile(`localStorage\.`),
		regexp.MustCompile(`setAttribute\(\s*['"](style|on[a-z]+)['"]`),
		regexp.MustCompile(`setTimeout\(\s*['"]`),
		regexp.MustCompile(`https?://`),
	}
	for name, js := range embedded(t, ".js") {
		js = strings.ReplaceAll(js, "'http://www.w3.org/2000/svg'", "SVG_NAMESPACE") // a name, not a fetch
		for _, re := range forbidden {
			if loc := re.FindStringIndex(js); loc != nil {
				line := strings.Count(js[:loc[0]], "\n") + 1
				t.Errorf("%s:%d uses %s", name, line, re)
			}
		}
	}
}

// TestModuleImportsResolve checks every relative import against the
// embedded files, since there is no bundler to catch a typo.
func TestModuleImportsResolve(t *testing.T) {
	imports := regexp.MustCompile(`(?:from\s+|import\s*\(\s*|import\s+)['"](\./[^'"]+)['"]`)
	scripts := embedded(t, ".js")
	for name, js := range scripts {
		for _, m := range imports.FindAllStringSubmatch(js, -1) {
			target := path.Join(path.Dir(name), m[1])
			if _, ok := scripts[target]; !ok {
				t.Errorf("%s imports %s, which is not embedded", name, m[1])
			}
		}
	}
}

// TestPageWeight keeps what a browser loads before sign-in small: the app
// page, the stylesheet, the icon and the modules the sign-in screen needs.
func TestPageWeight(t *testing.T) {
	h := testHandler(t)
	gz := map[string]string{"Accept-Encoding": "gzip"}
	index := body(t, get(t, h, http.MethodGet, "/", nil))
	total := len(body(t, get(t, h, http.MethodGet, "/", gz)))
	seen := map[string]bool{}
	var visit func(url string)
	visit = func(url string) {
		if seen[url] {
			return
		}
		seen[url] = true
		res := get(t, h, http.MethodGet, url, gz)
		total += len(body(t, res))
		if !strings.HasSuffix(url, ".js") {
			return
		}
		// Static imports load before the first screen; dynamic import() does not.
		static := regexp.MustCompile(`(?m)^(?:import|export)\s[^;]*?from\s+['"](\./[^'"]+)['"]`)
		src := body(t, get(t, h, http.MethodGet, url, nil))
		for _, m := range static.FindAllStringSubmatch(src, -1) {
			visit(path.Join(path.Dir(url), m[1]))
		}
	}
	for _, m := range regexp.MustCompile(`(?:href|src)="(/assets/[^"]+)"`).FindAllStringSubmatch(index, -1) {
		visit(m[1])
	}
	t.Logf("before sign-in: %d files, %d bytes gzip", len(seen)+1, total)
	if total > 150*1024 {
		t.Errorf("page weight before sign-in = %d bytes gzip, want under 150 KB", total)
	}
}
