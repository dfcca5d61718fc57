package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/rekey/rekey/infra/testwait"
)

// Viewport sizes: the default desktop, a narrow phone and a large screen.
const (
	desktopWidth  = 1280
	desktopHeight = 900
	narrowWidth   = 320
	wideWidth     = 1920
)

// tab is one browser tab in its own browser context (its own cookies and
// storage), so tests never share a session. It fails its test on any
// JavaScript dialog, uncaught exception, console error or CSP violation,
// and on any failed request whose status the test did not expect.
type tab struct {
	t   *testing.T
	ctx context.Context

	mu       sync.Mutex
	problems []string
	expected map[int]bool // HTTP statuses the test provokes on purpose
}

// cspReporter turns CSP violations, which some Chromium versions report
// only as events, into console errors that the tab fails on.
const cspReporter = `document.addEventListener('securitypolicyviolation', (e) => {
  console.error('CSP violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline code') + ' in ' + e.sourceFile + ':' + e.lineNumber);
});`

// newTab opens a tab that lives until the test ends or its deadline
// (testwait.Deadline) passes.
func newTab(t *testing.T) *tab {
	t.Helper()
	return openTab(t, shared, chromedp.WithNewBrowserContext())
}

// sibling opens another tab in tb's browser context: same cookies, its
// own sessionStorage, as when a user opens a link in a new tab.
func (tb *tab) sibling() *tab {
	tb.t.Helper()
	return openTab(tb.t, tb.ctx)
}

// openTab opens a tab from parent (the browser, or a tab whose browser
// context it shares). Every step in the tab (a click, a wait) may take
// until the test's deadline: there is no per-step limit, which a busy
// machine would overrun while nothing is wrong.
func openTab(t *testing.T, parent context.Context, opts ...chromedp.ContextOption) *tab {
	t.Helper()
	tb := &tab{t: t, expected: map[int]bool{}}
	ctx, cancel := chromedp.NewContext(parent, append(opts, chromedp.WithListener(tb.onEvent))...)
	// The tab outlives the waits by testwait.Grace: time to read what the
	// page shows, take a screenshot and fail with that.
	ctx, cancelTimeout := context.WithDeadline(ctx, testwait.Deadline(t).Add(testwait.Grace))
	tb.ctx = ctx
	t.Cleanup(func() {
		// A last round trip: every event sent before its answer has been
		// seen by onEvent (the listener runs in the tab's read loop).
		chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`0`))
		tb.mu.Lock()
		problems := tb.problems
		tb.mu.Unlock()
		for _, p := range problems {
			t.Errorf("browser: %s", p)
		}
		cancelTimeout()
		cancel()
	})
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspReporter}); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return tb
}

// expectHTTP tells the tab that failed requests with these statuses are
// part of the test (a 422 for a bad field, a 409 conflict) until the
// returned func is called, or to the end.
func (tb *tab) expectHTTP(statuses ...int) (stop func()) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, s := range statuses {
		tb.expected[s] = true
	}
	return func() {
		// A round trip first: events sent before it are handled (onEvent
		// runs in the read loop, in order).
		chromedp.Run(tb.ctx, chromedp.Evaluate[chromedp.Void](`0`))
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, s := range statuses {
			delete(tb.expected, s)
		}
	}
}

var failedStatus = regexp.MustCompile(`status of (\d{3})`)

// onEvent runs in the tab's read loop for every event, in order.
func (tb *tab) onEvent(ev any) {
	switch ev := ev.(type) {
	case *page.EventJavascriptDialogOpening:
		tb.problem("a JavaScript %s dialog opened: %q", ev.Type, ev.Message)
		// Close it, or the page would stay blocked (no command may run here).
		go chromedp.Call(tb.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		tb.problem("uncaught exception at %s:%d: %s", d.URL, d.LineNumber+1, text)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range ev.Args {
				if a.Value != nil {
					var s string
					if json.Unmarshal(a.Value, &s) == nil {
						parts = append(parts, s)
						continue
					}
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			tb.problem("console.%s: %s", ev.Type, strings.Join(parts, " "))
		}
	case *log.EventEntryAdded:
		e := ev.Entry
		if e.Level != log.EntryLevelError && e.Source != log.EntrySourceSecurity {
			return
		}
		if e.Source == log.EntrySourceNetwork {
			if m := failedStatus.FindStringSubmatch(e.Text); m != nil {
				status, _ := strconv.Atoi(m[1])
				tb.mu.Lock()
				ok := tb.expected[status]
				tb.mu.Unlock()
				if ok {
					return
				}
			}
		}
		tb.problem("%s %s: %s (%s)", e.Source, e.Level, e.Text, e.URL)
	}
}

func (tb *tab) problem(format string, args ...any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.problems = append(tb.problems, fmt.Sprintf(format, args...))
}

// do runs actions, failing the test with what was being done. It waits
// as long as the test may (testwait.Deadline): a step that never succeeds
// still fails with its own name, and a slow one on a busy machine passes.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	start := time.Now()
	ctx, cancel := tb.waitContext()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v (after %s)", what, err, time.Since(start).Round(time.Millisecond))
	}
}

// open loads a path of the console.
func (tb *tab) open(path string) {
	tb.t.Helper()
	tb.do("open "+path, chromedp.Navigate(stack.URL+path))
}

// openURL loads any address.
func (tb *tab) openURL(u string) {
	tb.t.Helper()
	tb.do("open "+u, chromedp.Navigate(u))
}

// goHash moves the app to another screen, as a link would.
func (tb *tab) goHash(hash string) {
	tb.t.Helper()
	tb.do("go to "+hash, chromedp.Evaluate[chromedp.Void](fmt.Sprintf("location.hash = %q", hash)))
}

// waitVisible waits until the element is shown.
func (tb *tab) waitVisible(sel string) {
	tb.t.Helper()
	tb.do("wait for "+sel+" to show", chromedp.WaitVisible(chromedp.CSS(sel)))
}

// waitGone waits until the element is hidden or removed.
func (tb *tab) waitGone(sel string) {
	tb.t.Helper()
	tb.waitFor(sel+" to go", fmt.Sprintf(`(() => { const el = document.querySelector(%q); return !el || !el.checkVisibility(); })()`, sel))
}

// click clicks an element with the mouse, once it is shown.
func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.do("click "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// fill replaces the text of an input: focus it, clear it and insert the
// text as a paste or an input method would (one input event; typing key by
// key costs three protocol calls a character, see keys for that).
func (tb *tab) fill(sel, text string) {
	tb.t.Helper()
	tb.do("type into "+sel,
		chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
  const el = document.querySelector(%q);
  el.focus();
  el.value = '';
  el.dispatchEvent(new Event('input', { bubbles: true }));
})()`, sel)),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: text})
			return err
		}),
	)
	if got := tb.value(sel); got != text {
		tb.t.Fatalf("%s holds %q after typing %q", sel, got, text)
	}
}

// choose picks an option of a select as the keyboard or mouse would: the
// value changes and input and change events fire.
func (tb *tab) choose(sel, value string) {
	tb.t.Helper()
	tb.waitVisible(sel)
	ok := evalT[bool](tb, fmt.Sprintf(`(() => {
  const el = document.querySelector(%q);
  if (![...el.options].some((o) => o.value === %q)) return false;
  el.focus();
  el.value = %q;
  el.dispatchEvent(new Event('input', { bubbles: true }));
  el.dispatchEvent(new Event('change', { bubbles: true }));
  return true;
})()`, sel, value, value))
	if !ok {
		tb.t.Fatalf("%s has no option %q", sel, value)
	}
}

// keys presses keys on whatever has the focus (chromedp.KeyEvent).
func (tb *tab) keys(keys string) {
	tb.t.Helper()
	tb.do(fmt.Sprintf("press %q", keys), chromedp.KeyEvent(keys))
}

// text is an element's textContent, trimmed (what is in the DOM, whether
// or not CSS shows it).
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	s, err := chromedp.Run(tb.ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		tb.t.Fatalf("read the text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// value is an input's current value.
func (tb *tab) value(sel string) string {
	tb.t.Helper()
	s, err := chromedp.Run(tb.ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		tb.t.Fatalf("read the value of %s: %v", sel, err)
	}
	return s
}

// evalT evaluates JavaScript in the page and decodes its JSON result.
func evalT[T any](tb *tab, js string, opts ...chromedp.EvaluateOption) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](js, opts...))
	if err != nil {
		tb.t.Fatalf("evaluate %.80q: %v", js, err)
	}
	return v
}

// waitContext bounds a wait by the test's deadline, not by a guess of how
// long one step takes.
func (tb *tab) waitContext() (context.Context, context.CancelFunc) {
	return context.WithDeadline(tb.ctx, testwait.Deadline(tb.t))
}

// poll waits in the page until condition is truthy or the test's
// deadline passes (chromedp's own 30 s polling limit is off).
func (tb *tab) poll(condition string) error {
	ctx, cancel := tb.waitContext()
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool]("!!("+condition+")", chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(0)))
	return err
}

// waitFor polls a JavaScript expression until it is truthy, and fails with
// what was awaited.
func (tb *tab) waitFor(what, condition string) {
	tb.t.Helper()
	start := time.Now()
	if err := tb.poll(condition); err != nil {
		tb.t.Fatalf("waiting for %s: %v (after %s)", what, err, time.Since(start).Round(time.Millisecond))
	}
}

// waitText waits until sel's text contains want and returns the text.
func (tb *tab) waitText(sel, want string) string {
	tb.t.Helper()
	start := time.Now()
	cond := fmt.Sprintf(`(() => { const el = document.querySelector(%q); return !!el && el.textContent.includes(%q); })()`, sel, want)
	if err := tb.poll(cond); err != nil {
		got, _ := chromedp.Run(tb.ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q)?.textContent ?? '(no such element)'`, sel)))
		tb.t.Fatalf("waiting for %s to say %q: %v (after %s); it says %q", sel, want, err, time.Since(start).Round(time.Millisecond), strings.TrimSpace(got))
	}
	return tb.text(sel)
}

// viewport sets the size of the page's viewport.
func (tb *tab) viewport(width, height int64) {
	tb.t.Helper()
	tb.do(fmt.Sprintf("set the viewport to %dx%d", width, height), chromedp.EmulateViewport(width, height))
}

// settle waits until animations and pending fonts are done, so that a
// screenshot or an audit sees the final state.
func (tb *tab) settle() {
	tb.t.Helper()
	evalT[chromedp.Void](tb, `Promise.all([document.fonts.ready, ...document.getAnimations().map((a) => a.finished.catch(() => {}))]).then(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))`, chromedp.EvalAwaitPromise)
}

// screenshot saves the full page as artifacts/screenshots/<name>.png; with
// a modal dialog or a menu open, only the viewport (a full-page capture
// stretches the page beyond the viewport for a moment: the dialog's backdrop
// then covers only part of it, and the resize closes menus).
func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	if evalT[bool](tb, `!!document.querySelector('dialog[open], [role=menu]')`) {
		tb.screenshotViewport(name)
		return
	}
	tb.settle()
	png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	tb.save(name, png)
}

// screenshotViewport saves what the viewport shows. A full-page capture
// resizes the page for a moment, which closes open menus.
func (tb *tab) screenshotViewport(name string) {
	tb.t.Helper()
	tb.settle()
	png, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", name, err)
	}
	tb.save(name, png)
}

func (tb *tab) save(name string, png []byte) {
	tb.t.Helper()
	dir := filepath.Join(repoRoot(tb.t), "artifacts", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// browserContextID is the tab's own browser context, for browser-wide
// commands such as the download folder.
func (tb *tab) browserContextID() cdp.BrowserContextID {
	return chromedp.FromContext(tb.ctx).BrowserContextID
}
