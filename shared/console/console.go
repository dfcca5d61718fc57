// Package console serves Rekey's hosted admin console: its HTML pages (the
// app, forgot password, reset from a link, guardian sign-up, not found) and
// their static assets, embedded in the binary with go:embed. The console
// talks to the HTTP API on the same origin and nothing else; there is no
// build step, so the assets under web/assets are exactly what the browser
// runs. The pages share one shell, web/layout.html, into which each page is
// rendered once (html/template) when the handler is built.
//
// Assets are served under /assets/<version>/, where version is a hash of
// every embedded asset, so they can be cached for a year; the pages
// themselves are revalidated on every load. Responses are gzip-compressed
// when the client accepts it, from copies compressed once when the handler
// is built.
package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
)

//go:embed web
var webFiles embed.FS

// assetPrefix is how the HTML files write the versioned asset path: a
// template function that gives "/assets/<version>".
const assetPrefix = "{{ASSETS}}"

// layout is the shell every page is rendered into: the head the pages share
// and the public pages' card (see its comment).
const layout = "web/layout.html"

// Cache policies: versioned assets never change under their URL; pages and
// the not-found page are revalidated every time.
const (
	cacheImmutable   = "public, max-age=31536000, immutable"
	cacheRevalidate  = "no-cache"
	minGzipSavingPct = 10 // serve gzip only when it saves at least this much
)

// contentTypes maps the extensions the console ships to their media types.
// An explicit table, rather than mime.TypeByExtension, so that the answer
// does not depend on the host's mime database.
var contentTypes = map[string]string{
	".html":  "text/html; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".svg":   "image/svg+xml",
	".json":  "application/json",
	".txt":   "text/plain; charset=utf-8",
	".woff2": "font/woff2",
	".png":   "image/png",
	".ico":   "image/x-icon",
}

// pages maps the console's public paths to the HTML file that serves them.
var pages = map[string]string{
	"/":                  "web/index.html",
	"/forgot-password":   "web/forgot-password.html",
	"/reset-password":    "web/reset-password.html",
	"/guardian-register": "web/guardian-register.html",
}

const notFoundPage = "web/404.html"

// file is one response body, ready to send: the raw bytes, the gzip copy
// (nil when compression would not help) and their entity tags. The gzip
// copy is made on the file's first request, not at cold start: compressing
// every file up front cost the console Lambda about 100 ms of init.
type file struct {
	contentType string
	raw         []byte
	etag        string
	tag         string // etag's digest, for gzEtag
	gzOnce      sync.Once
	gz          []byte
	gzEtag      string
}

// handler serves the prepared files; it is immutable once built.
type handler struct {
	version  string
	pages    map[string]*file // by request path
	assets   map[string]*file // by name below /assets/<version>/
	notFound *file
}

// Handler returns the console's HTTP handler. It serves "/" (the app),
// "/forgot-password", "/reset-password" and "/assets/<version>/...", and a
// 404 page for anything else. Mount it as the catch-all behind the API
// routes; security headers (CSP, frame options, HSTS) come from the API
// middleware around it.
func Handler() http.Handler {
	h, err := newHandler(webFiles)
	if err != nil {
		// The files are compiled into the binary, so this can only happen
		// if the package itself is broken; its tests build the handler.
		panic(err)
	}
	return h
}

// newHandler reads, versions and compresses every file in fsys.
func newHandler(fsys fs.FS) (*handler, error) {
	assetNames, err := fs.Glob(fsys, "web/assets/*")
	if err != nil {
		return nil, fmt.Errorf("console: list assets: %w", err)
	}
	sort.Strings(assetNames)
	sum := sha256.New()
	rawAssets := map[string][]byte{}
	for _, name := range assetNames {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("console: read %s: %w", name, err)
		}
		base := path.Base(name)
		rawAssets[base] = b
		fmt.Fprintf(sum, "%s\x00%d\x00", base, len(b))
		sum.Write(b)
	}
	h := &handler{
		version: hex.EncodeToString(sum.Sum(nil))[:12],
		pages:   map[string]*file{},
		assets:  map[string]*file{},
	}
	for base, b := range rawAssets {
		f, err := prepare(base, b)
		if err != nil {
			return nil, err
		}
		h.assets[base] = f
	}
	prefix := "/assets/" + h.version
	load := func(name string) (*file, error) {
		t, err := template.New(path.Base(layout)).Funcs(template.FuncMap{
			strings.Trim(assetPrefix, "{}"): func() string { return prefix },
		}).ParseFS(fsys, layout, name)
		if err != nil {
			return nil, fmt.Errorf("console: parse %s: %w", name, err)
		}
		var page bytes.Buffer
		if err := t.ExecuteTemplate(&page, "layout", nil); err != nil {
			return nil, fmt.Errorf("console: render %s: %w", name, err)
		}
		return prepare(name, page.Bytes())
	}
	for p, name := range pages {
		if h.pages[p], err = load(name); err != nil {
			return nil, err
		}
	}
	if h.notFound, err = load(notFoundPage); err != nil {
		return nil, err
	}
	return h, nil
}

// prepare wraps b as a file named name; its gzip copy comes on first use.
func prepare(name string, b []byte) (*file, error) {
	ct, ok := contentTypes[path.Ext(name)]
	if !ok {
		return nil, fmt.Errorf("console: no content type for %s", name)
	}
	digest := sha256.Sum256(b)
	tag := hex.EncodeToString(digest[:])[:20]
	return &file{contentType: ct, raw: b, etag: `"` + tag + `"`, tag: tag}, nil
}

// compressed returns the gzip copy and its entity tag, nil when the type is
// compressed already or gzip would save too little.
func (f *file) compressed() ([]byte, string) {
	f.gzOnce.Do(func() {
		if strings.HasPrefix(f.contentType, "image/png") || strings.HasPrefix(f.contentType, "font/") {
			return // already compressed
		}
		var buf bytes.Buffer
		zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if err != nil {
			return // only for a bad level; the raw bytes serve
		}
		zw.Write(f.raw) // writes to a bytes.Buffer cannot fail
		if zw.Close() != nil {
			return
		}
		if buf.Len()*100 <= len(f.raw)*(100-minGzipSavingPct) {
			f.gz = buf.Bytes()
			f.gzEtag = `"` + f.tag + `-gz"`
		}
	})
	return f.gz, f.gzEtag
}

// ServeHTTP routes a request to a page, an asset or the not-found page.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "Method not allowed.", http.StatusMethodNotAllowed)
		return
	}
	if f, ok := h.pages[r.URL.Path]; ok {
		if r.URL.Path == "/reset-password" {
			// The query string carries a reset token: never leak it in a Referer.
			w.Header().Set("Referrer-Policy", "no-referrer")
		}
		h.serve(w, r, f, cacheRevalidate, http.StatusOK)
		return
	}
	if rest, ok := strings.CutPrefix(r.URL.Path, "/assets/"+h.version+"/"); ok {
		if f, ok := h.assets[rest]; ok {
			h.serve(w, r, f, cacheImmutable, http.StatusOK)
			return
		}
	}
	h.serve(w, r, h.notFound, cacheRevalidate, http.StatusNotFound)
}

// serve writes f, compressed when the client accepts gzip, honouring
// If-None-Match for successful responses.
func (h *handler) serve(w http.ResponseWriter, r *http.Request, f *file, cacheControl string, status int) {
	body, etag := f.raw, f.etag
	hdr := w.Header()
	if gz, gzEtag := f.compressed(); gz != nil {
		hdr.Add("Vary", "Accept-Encoding")
		if AcceptsGzip(r.Header.Get("Accept-Encoding")) {
			body, etag = gz, gzEtag
			hdr.Set("Content-Encoding", "gzip")
		}
	}
	hdr.Set("Content-Type", f.contentType)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Cache-Control", cacheControl)
	if status == http.StatusOK {
		hdr.Set("ETag", etag)
		if etagMatches(r.Header.Get("If-None-Match"), etag) {
			hdr.Del("Content-Type")
			hdr.Del("Content-Encoding")
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// AcceptsGzip reports whether an Accept-Encoding header allows gzip: a
// "gzip" coding whose q-value is not zero, or else a non-zero "*". The API
// uses it too, for the results CSV.
func AcceptsGzip(header string) bool {
	gzipQ, starQ := -1.0, -1.0
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		for param := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(param), "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				if parsed, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					q = parsed
				}
			}
		}
		switch strings.ToLower(strings.TrimSpace(coding)) {
		case "gzip", "x-gzip":
			gzipQ = q
		case "*":
			starQ = q
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return starQ > 0
}

// etagMatches reports whether an If-None-Match header names etag (weak
// comparison, as RFC 9110 prescribes for If-None-Match) or is "*".
func etagMatches(header, etag string) bool {
	for candidate := range strings.SplitSeq(header, ",") {
		candidate = strings.TrimPrefix(strings.TrimSpace(candidate), "W/")
		if candidate == etag || candidate == "*" {
			return true
		}
	}
	return false
}
