package browsertest

import (
	"fmt"
	"testing"
)

// layoutProblem describes what sticks out sideways, or "" when nothing does.
const layoutProblem = `(() => {
  const width = window.innerWidth;
  if (document.documentElement.scrollWidth <= width) return '';
  const wide = [...document.querySelectorAll('body *')]
    .filter((el) => el.getBoundingClientRect().right > width + 1 && el.checkVisibility())
    .slice(0, 5)
    .map((el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '') + ' right=' + Math.round(el.getBoundingClientRect().right));
  return 'scrollWidth ' + document.documentElement.scrollWidth + ' > ' + width + ': ' + wide.join(', ');
})()`

// maxBarHeight is the most the closed menu bar may take at the top of a
// narrow screen (on wide screens the menu is a full-height side bar).
const maxBarHeight = 80

// barHeight is the height of the closed menu bar, or 0 when it is open or
// not there.
const barHeight = `(() => { const s = document.querySelector('.sidebar'); return s && !document.querySelector('#nav.open') ? s.getBoundingClientRect().height : 0; })()`

func TestLayoutAt320And1920PixelsWide(t *testing.T) {
	t.Parallel()
	for _, size := range []struct {
		width, height int64
	}{
		{narrowWidth, 640},
		{wideWidth, 1080},
	} {
		for _, w := range walks {
			t.Run(fmt.Sprintf("%d/%s", size.width, w.name), func(t *testing.T) {
				t.Parallel()
				tb := newTab(t)
				tb.viewport(size.width, size.height)
				w.walk(t, tb, func(name string) {
					tb.settle()
					if got := evalT[int](tb, `window.innerWidth`); got != int(size.width) {
						t.Fatalf("the viewport is %d wide, want %d", got, size.width)
					}
					if p := evalT[string](tb, layoutProblem); p != "" {
						t.Errorf("%s at %d px scrolls sideways: %s", name, size.width, p)
					}
					// The narrow menu bar keeps one height on every screen, long or short.
					if h := evalT[float64](tb, barHeight); size.width == narrowWidth && h > maxBarHeight {
						t.Errorf("%s at %d px: the menu bar is %.0f px high, want at most %d", name, size.width, h, maxBarHeight)
					}
					tb.screenshot(fmt.Sprintf("%d-%s", size.width, name))
				})
			})
		}
	}
}
