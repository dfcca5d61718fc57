package browsertest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// axeScript is axe-core's browser bundle, read once.
var axeScript struct {
	once   sync.Once
	source string
	err    error
}

func axeSource(t *testing.T) string {
	t.Helper()
	axeScript.once.Do(func() {
		b, err := os.ReadFile(filepath.Join("node_modules", "axe-core", "axe.min.js"))
		axeScript.source, axeScript.err = string(b), err
	})
	if axeScript.err != nil {
		t.Fatalf("axe-core is missing (%v): run `npm ci --prefix infra/browsertest` (make test does)", axeScript.err)
	}
	return axeScript.source
}

// axeViolation is one failed rule of an audit.
type axeViolation struct {
	ID, Impact, Help string
	Nodes            []struct {
		Target         []string
		FailureSummary string
	}
}

// audit runs axe-core on the page as it is and fails the test on any
// moderate, serious or critical violation; minor ones are logged.
func (tb *tab) audit(screen string) {
	tb.t.Helper()
	tb.settle()
	if !evalT[bool](tb, `typeof window.axe === 'object'`) {
		// Injected through DevTools, so the page's CSP does not apply.
		evalT[chromedp.Void](tb, axeSource(tb.t))
	}
	found := evalT[[]axeViolation](tb, `axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({
  id: v.id, impact: v.impact, help: v.help,
  nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target.map(String), failureSummary: n.failureSummary })),
})))`, chromedp.EvalAwaitPromise)
	for _, v := range found {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, strings.Join(n.Target, " ")+": "+strings.ReplaceAll(n.FailureSummary, "\n", " "))
		}
		msg := fmt.Sprintf("axe on %s: %s %s (%s) at %s", screen, v.Impact, v.ID, v.Help, strings.Join(where, "; "))
		if v.Impact != "minor" {
			tb.t.Error(msg)
		} else {
			tb.t.Log(msg)
		}
	}
}

func TestAccessibilityOfEveryScreen(t *testing.T) {
	t.Parallel()
	axeSource(t)
	for _, w := range walks {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			tb := newTab(t)
			var audited []string
			w.walk(t, tb, func(name string) {
				tb.audit(name)
				tb.screenshot(name)
				audited = append(audited, name)
			})
			t.Logf("audited %d screens: %s", len(audited), strings.Join(audited, ", "))
		})
	}
}
