package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/burgut-uav/burgut/app"
)

// a11yJS reports, for what is visible on the page now, every form control
// without an accessible name and every text whose contrast against its
// background is under WCAG AA (4.5:1, 3:1 for large text), computed from
// the rendered colours (with the opacity of the text and its ancestors);
// disabled controls are exempt, as WCAG has it.
const a11yJS = `(() => {
  const out = [];
  const visible = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const name = (el) => el.getAttribute('aria-label') || (el.getAttribute('aria-labelledby') || '').split(/\s+/).map(id => document.getElementById(id)?.textContent || '').join('').trim() ||
    (el.labels && [...el.labels].map(l => l.textContent).join('').trim()) || el.getAttribute('title') ||
    (/^(BUTTON|SUMMARY|A)$/.test(el.tagName) ? el.textContent.trim() : '') || (el.type === 'submit' ? el.value : '');
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea, button, summary, a[href], [role=tab], [tabindex="0"]')) {
    if (!visible(el) || el.closest('.leaflet-control-container')) continue;
    if (!name(el) && !(el.tabIndex === 0 && el.textContent.trim())) out.push('no name: ' + el.outerHTML.slice(0, 120));
  }
  const rgba = (s) => { const m = s.match(/[\d.]+/g) || []; return m.length >= 3 ? [+m[0], +m[1], +m[2], m.length > 3 ? +m[3] : 1] : [0, 0, 0, 0]; };
  const lum = ([r, g, b]) => { const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const over = (top, bottom, a) => top.map((c, i) => c * a + bottom[i] * (1 - a));
  // The background an element's text is drawn on: its ancestors' colours
  // composed from the page's down.
  const background = (el) => {
    const chain = [];
    for (let e = el; e; e = e.parentElement) chain.unshift(e);
    let bg = [255, 255, 255];
    for (const e of chain) { const c = rgba(getComputedStyle(e).backgroundColor); if (c[3] > 0) bg = over(c.slice(0, 3), bg, c[3]); }
    return bg;
  };
  const opacity = (el) => { let o = 1; for (let e = el; e; e = e.parentElement) o *= +getComputedStyle(e).opacity; return o; };
  for (const el of document.querySelectorAll('body *')) {
    if (!visible(el) || el.closest('#map') || !['SPAN', 'P', 'LI', 'DT', 'DD', 'LABEL', 'H1', 'H2', 'H3', 'SMALL', 'B', 'TIME', 'BUTTON', 'SUMMARY', 'A', 'LEGEND', 'FIGCAPTION', 'OPTION', 'SELECT', 'INPUT'].includes(el.tagName)) continue;
    if (el.matches(':disabled') || el.closest(':disabled')) continue; // WCAG: inactive controls are exempt
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()) || el.tagName === 'INPUT' && el.value;
    if (!own) continue;
    const cs = getComputedStyle(el);
    const bg = background(el);
    const c = rgba(cs.color);
    const fg = over(c.slice(0, 3), bg, c[3] * opacity(el));
    const [l1, l2] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    const size = parseFloat(cs.fontSize), bold = +cs.fontWeight >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < need) out.push('contrast ' + ratio.toFixed(2) + ' < ' + need + ': ' + el.tagName + ' "' + el.textContent.trim().slice(0, 40) + '" ' + cs.color + ' on rgb(' + bg.map(Math.round) + ')');
  }
  return out;
})()`

// accessible fails the test with every accessibility problem a11yJS finds
// on the page as it is now.
func (c *console) accessible(where string) {
	c.t.Helper()
	if problems := eval[[]string](c, a11yJS); len(problems) > 0 {
		c.shot("a11y-" + where)
		c.t.Fatalf("%s: %d accessibility problems:\n%s", where, len(problems), strings.Join(problems, "\n"))
	}
}

// Issue 12's accessible basics checked in Chromium on every panel an
// operator opens (the login form, Fly with a vehicle's details, Plan,
// Alerts, Review, Operations with its form): every control has a label,
// and the text is readable (WCAG AA contrast). The command and operation
// tests check their panels full of results too.
func TestConsoleAccessibleBasics(t *testing.T) {
	c := startConsole(t, "a11y", 1, 1, func(cfg *app.Config) { cfg.Sim.Demo = true })
	c.poll("the login form", `!document.getElementById('login').hidden && document.getElementById('login').dataset.ready === 'true'`, 30*time.Second)
	c.accessible("login")
	c.login("pilot")
	c.poll("the vehicle", `document.querySelectorAll('#vehicles li[data-vehicle-id]:not([data-lat="0"])').length === 1`, 60*time.Second)
	c.selectFirstVehicle() // not a plain click: the video panel above the list may still be resizing
	c.run(chromedp.Click("#params summary"))
	c.poll("the details", `!document.getElementById('details').hidden`, 10*time.Second)
	c.accessible("fly")
	for _, tab := range []string{"plan", "alerts", "review", "ops"} {
		c.run(chromedp.Click(`#tabs [data-tab="` + tab + `"]`))
		if tab == "ops" {
			c.poll("no operation yet", `document.getElementById('ops-status').textContent === 'No operation yet.'`, 10*time.Second)
			c.openDetails("op-create")
			c.poll("the pool", `document.querySelectorAll('#op-pool input').length === 1`, 10*time.Second)
		}
		c.accessible(tab)
	}
}
