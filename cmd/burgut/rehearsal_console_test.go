package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/internal/testenv/chromium"
)

// A trainee in the real console during a rehearsal: logs in (an account
// an instructor made with `burgut users add`), sees the alert of the
// scenario's battery fault, acknowledges it, and sends RTL to all with the
// emergency shortcut. The instructor then ends the drill with Ctrl-C, and
// the rehearsal's report credits the trainee, by name, with the
// acknowledgement and the RTL.
func TestRehearsalTraineeInTheConsole(t *testing.T) {
	r, bctx := consoleRehearsal(t, `name: console drill
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
`)

	do, poll := pageActions(t, bctx)
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

// consoleRehearsal starts a rehearsal of scenarioYAML (its report to
// drill.html) with an operator account "pilot" that an instructor made
// beforehand, and a Chromium logged into its console as pilot.
func consoleRehearsal(t *testing.T, scenarioYAML string) (*rehearsalRun, context.Context) {
	t.Helper()
	browser := chromium.Binary(t)
	chromium.RequireConsole(t)
	r := startRehearsal(t, scenarioYAML, func(dir string) []string {
		pw := filepath.Join(dir, "pilot.pw")
		if err := os.WriteFile(pw, []byte("pilot-password-1"), 0o600); err != nil {
			t.Fatal(err)
		}
		if code, _, errOut := run("users", "add", "--data-dir", filepath.Join(dir, "data"), "--name", "pilot", "--role", "operator", "--password-file", pw); code != 0 {
			t.Fatalf("users add: %s", errOut)
		}
		return []string{"--report", filepath.Join(dir, "drill.html")}
	})
	bctx := chromium.Open(t, browser, chromium.Options{})
	testenv.Eventually(t, time.Minute, "the rehearsal's console", func() bool {
		status, err := r.api("GET", "/api/v1/vehicles", nil)
		return err == nil && status == 200
	})
	if _, err := chromedp.Run(bctx, chromedp.Navigate("http://"+r.http+"/")); err != nil {
		t.Fatal(err)
	}
	login(t, bctx, "pilot", "pilot-password-1")
	return r, bctx
}

// pageActions are the test's steps in the page: do runs actions, poll
// waits for a page state, each failing the test with what it waited for.
func pageActions(t *testing.T, bctx context.Context) (do func(...chromedp.Action[chromedp.Void]), poll func(what, expr string, timeout time.Duration)) {
	do = func(actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		for _, a := range actions {
			if _, err := chromedp.Run(bctx, a); err != nil {
				t.Fatal(err)
			}
		}
	}
	poll = func(what, expr string, timeout time.Duration) {
		t.Helper()
		if err := chromium.Poll(bctx, expr, timeout); err != nil {
			chromium.Screenshot(bctx, t, "rehearsal-console-failure.png")
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
	return do, poll
}

// login logs into the console as user, from its login form.
func login(t *testing.T, bctx context.Context, user, password string) {
	t.Helper()
	_, poll := pageActions(t, bctx)
	poll("the login form", chromium.LoginReady, 30*time.Second)
	if err := chromium.Login(bctx, user, password); err != nil {
		t.Fatalf("log in as %s: %v", user, err)
	}
	poll("the console after login", chromium.LoggedIn, 10*time.Second)
}

// A trainee's console through a station_restart in a rehearsal: while
// the station is down the console says it is disconnected and retries;
// once it is back, the session (held in the old station's memory) is
// gone, so the console asks the trainee to log in again, and after the
// login its stream is live again with both vehicles.
func TestRehearsalConsoleReconnectsAfterRestart(t *testing.T) {
	r, bctx := consoleRehearsal(t, `name: restart in the console
duration: 10m
fleet:
  vehicles: 2
faults:
  - name: restart
    at: 15s
    kind: station_restart
    for: 5s
assertions:
  - kind: all_landed
    by: 10m
`)
	_, poll := pageActions(t, bctx)
	live := fmt.Sprintf(`document.getElementById('conn').dataset.state === 'open' && document.querySelectorAll('#vehicles li[data-vehicle-id]').length === %d`, 2)
	poll("the live stream with both vehicles", live, 60*time.Second)
	poll("the console disconnected (the station is down)", `document.getElementById('conn').dataset.state === 'closed'`, 90*time.Second)
	poll("the login form again (the session ended with the old station)", chromium.LoginReady+` && document.getElementById('login-error').textContent.includes('session has ended')`, 90*time.Second)
	login(t, bctx, "pilot", "pilot-password-1")
	poll("the live stream again with both vehicles", live, 60*time.Second)
	ids, ok := r.connectedVehicles()
	if !ok || len(ids) != 2 {
		t.Fatalf("after the restart the station hears %v (answering: %v), want both vehicles", ids, ok)
	}
	r.cancel()
	if code := r.wait(); code != 0 {
		t.Fatalf("burgut run --scenario exited %d\n%s", code, r.err.String())
	}
}
