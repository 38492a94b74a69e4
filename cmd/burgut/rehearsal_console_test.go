package main

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

// A trainee in the real console during a rehearsal: logs in (an account
// an instructor made with `burgut users add`), sees the alert of the
// scenario's battery fault, acknowledges it, and sends RTL to all with the
// emergency shortcut. The instructor then ends the drill with Ctrl-C, and
// the rehearsal's report credits the trainee, by name, with the
// acknowledgement and the RTL.
func TestRehearsalTraineeInTheConsole(t *testing.T) {
	chromium := testenv.Service(t, "BURGUT_TEST_CHROMIUM")
	if !web.Built() {
		if os.Getenv("BURGUT_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("web console not built: make web should have run before the tests")
		}
		t.Skip("web console not built: run 'make web'")
	}
	r := startRehearsal(t, `name: console drill
duration: 10m
fleet:
  vehicles: 2
faults:
  - name: cell failure
    at: 8s
    kind: battery_drop
    vehicles: 0
    pct: 85
assertions:
  - kind: all_landed
    by: 10m
`, func(dir string) []string {
		pw := filepath.Join(dir, "pilot.pw")
		if err := os.WriteFile(pw, []byte("pilot-password-1"), 0o600); err != nil {
			t.Fatal(err)
		}
		if code, _, errOut := run("users", "add", "--data-dir", filepath.Join(dir, "data"), "--name", "pilot", "--role", "operator", "--password-file", pw); code != 0 {
			t.Fatalf("users add: %s", errOut)
		}
		return []string{"--report", filepath.Join(dir, "drill.html")}
	})

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 900),
	)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	do := func(actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		for _, a := range actions {
			if _, err := chromedp.Run(bctx, a); err != nil {
				t.Fatal(err)
			}
		}
	}
	poll := func(what, expr string, timeout time.Duration) {
		t.Helper()
		if _, err := chromedp.Run(bctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
	testenv.Eventually(t, time.Minute, "the rehearsal's console", func() bool {
		status, err := r.api("GET", "/api/v1/vehicles", nil)
		return err == nil && status == 200
	})
	do(chromedp.Navigate("http://" + r.http + "/"))
	poll("the login form", `!document.getElementById('login').hidden && document.getElementById('login').dataset.ready === 'true'`, 30*time.Second)
	do(chromedp.SendKeys("#login-user", "pilot"), chromedp.SendKeys("#login-password", "pilot-password-1"), chromedp.Click("#login button[type=submit]"))
	poll("the console after login", `!document.querySelector('main').hidden && document.body.dataset.role !== undefined`, 10*time.Second)
	poll("the battery alert", `document.querySelector('#alerts li[data-kind="battery_low"] .alert-ack') !== null`, 90*time.Second)
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('#alerts li[data-kind="battery_low"] .alert-ack').click()`)); err != nil {
		t.Fatal(err)
	}
	poll("the alert acknowledged", `document.querySelector('#alerts li[data-kind="battery_low"][data-acked="true"]') !== null`, 10*time.Second)
	poll("both vehicles in the list", `document.querySelectorAll('#vehicles li[data-vehicle-id]').length === 2`, 30*time.Second)
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`document.body.dispatchEvent(new KeyboardEvent('keydown', {key: 'R', shiftKey: true, bubbles: true})) || true`)); err != nil {
		t.Fatal(err)
	}
	poll("the confirmation dialog", `document.getElementById('confirm').open`, 10*time.Second)
	do(chromedp.Click("#confirm-yes"))
	poll("RTL answered for both", `document.querySelectorAll('#command-results li').length === 2`, 60*time.Second)

	// The instructor ends the drill (Ctrl-C): the report is written then.
	r.cancel()
	if code := r.wait(); code != 0 {
		t.Fatalf("burgut run --scenario exited %d\n%s", code, r.err.String())
	}
	rows, _ := rehearsalRows(t, filepath.Join(r.dir, "drill.html"))
	if len(rows) != 1 {
		t.Fatalf("rehearsal rows %q, want 1", rows)
	}
	row := rows[0]
	if !strings.HasPrefix(row[3], "battery_low") || !strings.HasPrefix(row[5], "rtl → ") || row[6] != "pilot" ||
		!strings.HasPrefix(row[9], "pilot, ") {
		t.Errorf("rehearsal row %q: want the battery alert, pilot's RTL and pilot's acknowledgement", row)
	}
}
