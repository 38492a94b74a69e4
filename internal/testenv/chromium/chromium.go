// Package chromium starts the headless Debian Chromium that browser tests
// drive (the console in web/, the scenario report, a rehearsal's
// trainee) and holds what those tests share: the browser's flags and
// throw-away profile, waiting for a page state, the console's login and
// screenshots. One set-up, so a flag that keeps Chromium quiet or a fix to
// polling across navigations serves every browser test.
//
// The browser comes from BURGUT_TEST_CHROMIUM (testenv.Service: skipped
// when unset, failed under `make test`, which sets it).
package chromium

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/web"
)

// EnvVar names the Chromium binary for the tests.
const EnvVar = "BURGUT_TEST_CHROMIUM"

// Binary is the Chromium to drive; without BURGUT_TEST_CHROMIUM the test
// is skipped (failed under make test).
func Binary(t testing.TB) string {
	t.Helper()
	return testenv.Service(t, EnvVar)
}

// RequireConsole skips a test of the operator console when the front end
// was not built into web/dist (`make web`), and fails it under make test,
// which builds it first.
func RequireConsole(t testing.TB) {
	t.Helper()
	if web.Built() {
		return
	}
	if os.Getenv("BURGUT_TEST_REQUIRE_SERVICES") == "1" {
		t.Fatal("web console not built: make web should have run before the tests")
	}
	t.Skip("web console not built: run 'make web'")
}

// Options adjust one browser.
type Options struct {
	// Flags are added to the common ones (e.g. media autoplay, a proxy).
	Flags []chromedp.ExecAllocatorOption
	// Width and Height are the window's size (default 1400×900).
	Width, Height int
	// Listener receives the tab's DevTools events (requests, script
	// exceptions …).
	Listener func(ev any)
}

// Open starts a headless Chromium with a profile of its own in a
// temporary directory (its own cookies: another person's session), and
// returns its tab's context. The browser is closed when the test ends.
func Open(t testing.TB, binary string, o Options) context.Context {
	t.Helper()
	w, h := o.Width, o.Height
	if w == 0 || h == 0 {
		w, h = 1400, 900
	}
	flags := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(binary),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		// Nothing the browser does on its own (updates, sync, safe
		// browsing lists) reaches the network or the CPU the test runs on.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(w, h),
	}, o.Flags...)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), flags...)
	t.Cleanup(cancelAlloc)
	var copts []chromedp.ContextOption
	if o.Listener != nil {
		copts = append(copts, chromedp.WithListener(o.Listener))
	}
	ctx, cancel := chromedp.NewContext(alloc, copts...)
	t.Cleanup(cancel)
	return ctx
}

// Poll waits until expr is true in the page. Right after a navigation
// the page's old execution context can be gone before the new one is
// announced, and a poll then fails with "Cannot find context with
// specified id": that is not the answer, so it polls again in the new
// page until the timeout.
//
// A timeout is the test's patience, not a claim about speed (those
// live in benchmarks), so it is never shorter than MinPoll: on a loaded
// 2-core runner a 10 s wait for a redraw after a drawn vertex has run
// out (TestConsoleDrawAndEditArea at load average 14) while the page
// was only slow. A page that never gets there still fails.
func Poll(ctx context.Context, expr string, timeout time.Duration) error {
	timeout = max(timeout, MinPoll)
	deadline := time.Now().Add(timeout)
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(time.Until(deadline)), chromedp.WithPollingInterval(100*time.Millisecond)))
		if err == nil || !strings.Contains(err.Error(), "Cannot find context") || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// MinPoll is the shortest wait Poll allows.
const MinPoll = 30 * time.Second

// The console's page states around its login form (web/src/main.js).
const (
	// LoginReady: the login form is shown and its script is listening.
	LoginReady = `!document.getElementById('login').hidden && document.getElementById('login').dataset.ready === 'true'`
	// LoggedIn: the console is shown for a session.
	LoggedIn = `!document.querySelector('main').hidden && document.body.dataset.role !== undefined`
)

// Login types user and password into the console's login form, as a
// person would, and submits it; the form must be ready (LoginReady).
// Fields left filled by an earlier attempt are cleared first.
func Login(ctx context.Context, user, password string) error {
	for _, a := range []chromedp.Action[chromedp.Void]{
		chromedp.Evaluate[chromedp.Void](`document.getElementById('login-user').value = ''; document.getElementById('login-password').value = ''`),
		chromedp.SendKeys("#login-user", user), chromedp.SendKeys("#login-password", password),
		chromedp.Click("#login button[type=submit]"),
	} {
		if _, err := chromedp.Run(ctx, a); err != nil {
			return err
		}
	}
	return nil
}

// Screenshot saves the whole page to artifacts/name (at the repository's
// root), where CI keeps it; a failure to take it is only logged.
func Screenshot(ctx context.Context, t testing.TB, name string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	dir := filepath.Join(testenv.RepoRoot(t), "artifacts")
	_ = os.MkdirAll(dir, 0o755)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	t.Logf("screenshot saved to %s", p)
}
