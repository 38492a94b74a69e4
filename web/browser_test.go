package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/burgut-uav/burgut/app"
	"github.com/burgut-uav/burgut/audit"
	"github.com/burgut-uav/burgut/auth"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/internal/testenv/chromium"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// The live map in a real browser: the real app with its simulated fleet
// over real MAVLink/UDP; the test asserts that every vehicle appears and
// moves, that a real fence breach in the simulator shows as an alert, and
// that a vehicle's details show its video link. It saves a screenshot to
// artifacts/web-map.png.
func TestLiveMapInChromium(t *testing.T) {
	browser := chromium.Binary(t)
	chromium.RequireConsole(t)
	const n = 3
	cfg := app.Default()
	cfg.HTTP = "127.0.0.1:0"
	cfg.Sim.Vehicles = n
	cfg.Sim.Speedup = 2
	cfg.GroundStation.MAVLink = []string{fmt.Sprintf("udp:127.0.0.1:%d", testenv.FreeUDPPort(t))}
	cfg.DataDir = t.TempDir()
	cfg.Relay.MQTTListen = "127.0.0.1:0"
	cfg.Relay.StaleAfter = 30 * time.Second // the machine is shared and slow under -race
	a := startApp(t, cfg)
	if a.Sim == nil {
		t.Fatal("app has no simulator although Sim.Vehicles > 0")
	}
	// Accounts as an admin would create them; the test's own API calls
	// carry an operator token.
	actx := context.Background()
	for _, u := range []struct {
		name string
		role auth.Role
	}{{"pilot", auth.Operator}, {"watcher", auth.Observer}} {
		if err := a.Auth.AddUser(actx, u.name, u.role, u.name+"-password"); err != nil {
			t.Fatal(err)
		}
	}
	opToken, _, err := a.Auth.CreateToken(actx, "browser-test", auth.Operator, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Take off (once the simulated GPS has a position), so every vehicle
	// can then be sent somewhere and move on the map.
	for i := 0; i < n; i++ {
		deadline := time.Now().Add(60 * time.Second)
		for {
			var msg string
			a.Sim.Vehicle(i).Do(func(v *vehicle.Vehicle) {
				if v.State().Armed {
					return // already flying (e.g. the demo patrol of burgut run)
				}
				if r, m := v.SetMode(vehicle.ModeGuided); r != 0 {
					msg = "mode GUIDED: " + m
					return
				}
				if r, m := v.Arm(true); r != 0 {
					msg = "arm: " + m
					return
				}
				if r, m := v.Takeoff(40); r != 0 {
					msg = "takeoff: " + m
				}
			})
			if msg == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("simulated vehicle %d would not take off: %s", i, msg)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}

	// An event area with a no-fly zone around home, through the planner's API.
	area := fmt.Sprintf(`{"type":"FeatureCollection","features":[
	 {"type":"Feature","properties":{"kind":"event-area","name":"map test area","min_alt_m":20,"max_alt_m":100},
	  "geometry":{"type":"Polygon","coordinates":[[[%[2]f,%[1]f],[%[4]f,%[1]f],[%[4]f,%[3]f],[%[2]f,%[3]f],[%[2]f,%[1]f]]]}},
	 {"type":"Feature","properties":{"kind":"no-fly","name":"map test no-fly"},
	  "geometry":{"type":"Polygon","coordinates":[[[%[6]f,%[5]f],[%[8]f,%[5]f],[%[8]f,%[7]f],[%[6]f,%[7]f],[%[6]f,%[5]f]]]}}]}`,
		41.3081, 69.2757, 41.3141, 69.2837, 41.3121, 69.2807, 41.3131, 69.2817)
	req, _ := http.NewRequest(http.MethodPost, "http://"+a.HTTPAddr()+"/api/v1/areas", strings.NewReader(area))
	req.Header.Set("Content-Type", "application/geo+json")
	req.Header.Set("Authorization", "Bearer "+opToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/v1/areas = %d %s", resp.StatusCode, body)
	}

	bctx := chromium.Open(t, browser, chromium.Options{})
	url := "http://" + a.HTTPAddr() + "/"
	if _, err := chromedp.Run(bctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s in chromium: %v", url, err)
	}
	shot := func(name string) { chromium.Screenshot(bctx, t, name) }
	poll := func(what, expr string, timeout time.Duration) {
		t.Helper()
		if err := chromium.Poll(bctx, expr, timeout); err != nil {
			shot("web-map-failure.png")
			for i := 0; i < n; i++ {
				st := a.Sim.Vehicle(i).State()
				t.Logf("sim vehicle %d: %.6f,%.6f rel %.1f m armed %v mode %d", i, st.Lat, st.Lon, st.RelAlt, st.Armed, st.CustomMode)
			}
			for _, v := range a.Fleet.List() {
				t.Logf("fleet %s: %.6f,%.6f rel %.1f armed %v mode %s video %d", v.ID, v.Lat, v.Lon, v.RelativeAlt, v.Armed, v.Mode, len(v.Video))
			}
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}

	// Without a session / is the login page: a user name and a password
	// field, and no map.
	poll("the login form", `!document.getElementById('login').hidden && document.getElementById('login').dataset.ready === 'true' && document.querySelector('#login input[name=username]') !== null &&
		document.querySelector('#login input[type=password]') !== null && document.querySelector('main').hidden`, 30*time.Second)
	login := func(user, password string) {
		t.Helper()
		// Typed into the fields and submitted with the button, as a person would.
		if err := chromium.Login(bctx, user, password); err != nil {
			t.Fatalf("log in as %s: %v", user, err)
		}
	}
	login("pilot", "wrong-password")
	poll("the refused login's message", `document.getElementById('login-error').textContent.includes('invalid user name or password')`, 10*time.Second)
	login("pilot", "pilot-password")
	poll("the map after login", `document.getElementById('login').hidden && !document.querySelector('main').hidden && document.getElementById('whoami').textContent === 'pilot (operator)'`, 10*time.Second)

	poll(fmt.Sprintf("%d vehicles on the map and in the list", n), fmt.Sprintf(
		`document.querySelectorAll('#vehicles li[data-vehicle-id]').length === %d && document.querySelectorAll('#vehicles li[data-vehicle-id]:not([data-lat="0"])').length === %d`, n, n), 60*time.Second)
	poll("the event area and the no-fly zone on the map",
		`document.querySelector('[data-area-kind="event-area"]') !== null && document.querySelector('[data-area-kind="no-fly"]') !== null`, 30*time.Second)
	first, err := chromedp.Run(bctx, chromedp.Evaluate[map[string][2]float64](
		`Object.fromEntries([...document.querySelectorAll('#vehicles li[data-vehicle-id]')].map(e => [e.dataset.vehicleId, [+e.dataset.lat, +e.dataset.lon]]))`))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		st := a.Sim.Vehicle(i).State()
		a.Sim.Vehicle(i).Do(func(v *vehicle.Vehicle) {
			v.GotoGlobal(st.Lat+0.002*float64(i+1), st.Lon+0.002, 40)
		})
	}
	startJSON := "{"
	for id, p := range first {
		startJSON += fmt.Sprintf("%q:[%v,%v],", id, p[0], p[1])
	}
	startJSON = startJSON[:len(startJSON)-1] + "}"
	poll("every vehicle to move on the map", fmt.Sprintf(`(() => {
		const start = %s;
		const els = [...document.querySelectorAll('#vehicles li[data-vehicle-id]')];
		return els.length === %d && els.every(e => start[e.dataset.vehicleId] &&
			Math.hypot(+e.dataset.lat - start[e.dataset.vehicleId][0], +e.dataset.lon - start[e.dataset.vehicleId][1]) > 0.0002);
	})()`, startJSON, n), 90*time.Second)

	// The operator turns the alert sound on (a real click: browsers allow
	// audio only after a gesture); a spy counts the tones the page plays.
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[chromedp.Void](`window.tones = 0; const o = AudioContext.prototype.createOscillator;
		AudioContext.prototype.createOscillator = function () { window.tones++; return o.call(this) }`)); err != nil {
		t.Fatal(err)
	}
	for _, act := range []chromedp.Action[chromedp.Void]{chromedp.Click(`#tabs [data-tab="alerts"]`), chromedp.Click("#alert-sound")} {
		if _, err := chromedp.Run(bctx, act); err != nil {
			t.Fatal(err)
		}
	}
	poll("the sound on", `document.getElementById('alert-sound').checked`, 5*time.Second)

	// A real fence breach: vehicle 0 flies well above 10 m; its altitude
	// fence is lowered to 10 m (the lowest ArduPilot allows) and enabled.
	testenv.Eventually(t, 60*time.Second, "vehicle 0 above 15 m", func() bool { return a.Sim.Vehicle(0).State().RelAlt > 15 })
	a.Sim.Vehicle(0).Do(func(v *vehicle.Vehicle) {
		if _, err := v.SetParam("FENCE_ALT_MAX", 10); err != nil {
			t.Errorf("FENCE_ALT_MAX: %v", err)
		}
		if _, err := v.SetParam("FENCE_ENABLE", 1); err != nil {
			t.Errorf("FENCE_ENABLE: %v", err)
		}
	})
	poll("a fence-breach alert", `document.querySelector('#alerts li[data-kind="fence_breach"]') !== null`, 60*time.Second)
	// The operator acknowledges it: marked with the name, for every console.
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('#alerts li[data-kind="fence_breach"] .alert-ack').click()`)); err != nil {
		t.Fatal(err)
	}
	poll("the alert acknowledged by pilot", `(() => { const li = document.querySelector('#alerts li[data-kind="fence_breach"][data-acked="true"]'); return li !== null && li.textContent.includes('✓ pilot') })()`, 10*time.Second)
	poll("a tone for the critical alert", `window.tones >= 1`, 10*time.Second)
	// The filter: critical only, a search, not acknowledged.
	filter := func(sev, text string) {
		t.Helper()
		if _, err := chromedp.Run(bctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const f = document.getElementById('alert-filter'); f.value = %q; f.dispatchEvent(new Event('change'));
			const q = document.getElementById('alert-text'); q.value = %q; q.dispatchEvent(new Event('input')); })()`, sev, text))); err != nil {
			t.Fatal(err)
		}
	}
	const breachShown = `!document.querySelector('#alerts li[data-kind="fence_breach"]').hidden`
	filter("critical", "")
	poll("critical alerts only", breachShown+` && [...document.querySelectorAll('#alerts li:not([hidden])')].every(li => li.dataset.severity === 'critical')`, 5*time.Second)
	filter("critical", "geofence "+strings.ToUpper("pilot"))
	poll("the search finds the breach by its text and acknowledger", breachShown, 5*time.Second)
	filter("", "no-such-vehicle")
	poll("a search matching nothing", `document.querySelectorAll('#alerts li:not([hidden])').length === 0 && document.getElementById('alert-count').textContent === ''`, 5*time.Second)
	filter("unacked", "")
	poll("the acknowledged breach left out of the unacknowledged", `document.querySelector('#alerts li[data-kind="fence_breach"]').hidden`, 5*time.Second)
	filter("", "")
	poll("all alerts again", breachShown, 5*time.Second)
	// From the keyboard: Enter on an alert selects its vehicle.
	if _, err := chromedp.Run(bctx, chromedp.Focus(`#alerts li[data-kind="fence_breach"]`)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(bctx, chromedp.KeyEvent(kb.Enter)); err != nil {
		t.Fatal(err)
	}
	poll("the alert's vehicle selected", `document.getElementById('details').dataset.vehicleId === document.querySelector('#alerts li[data-kind="fence_breach"]').dataset.vehicleId`, 5*time.Second)
	if _, err := chromedp.Run(bctx, chromedp.Click(`#tabs [data-tab="fly"]`)); err != nil {
		t.Fatal(err)
	}

	// Clicking a vehicle shows its details and, once discovered, its video link.
	id := ""
	for _, v := range a.Fleet.List() {
		if v.SystemID == a.Sim.Vehicle(0).SystemID() {
			id = v.ID
		}
	}
	if id == "" {
		t.Fatal("vehicle 0 is not in the fleet")
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector('#vehicles li[data-vehicle-id=%q]').click()`, id))); err != nil {
		t.Fatal(err)
	}
	poll("vehicle details", fmt.Sprintf(`!document.getElementById('details').hidden && document.getElementById('details').dataset.vehicleId === %q`, id), 10*time.Second)
	poll("the video link in the details (camera discovered over MAVLink)", `document.querySelector('#details-video a[href^="rtsp:"], #details-video a[href^="udp:"], #details-video a') !== null`, 60*time.Second)
	shot("web-map.png")

	// An observer's session: the map, no command controls, and any POST
	// it forges is refused — without the CSRF token, and with it (its role
	// may not command). The operator sees the controls the observer must not.
	controls := `document.querySelectorAll('.operator-only, [data-command], button.command, .alert-ack').length`
	if got, err := chromedp.Run(bctx, chromedp.Evaluate[int](controls)); err != nil || got == 0 {
		t.Fatalf("the operator sees no command controls (%d, %v): the observer check below would prove nothing", got, err)
	}
	// Log out as the button does (then the page reloads: open it again).
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[int](`fetch('/api/v1/session').then(r => r.json()).then(s =>
		fetch('/api/v1/logout', {method: 'POST', headers: {'X-CSRF-Token': s.csrf_token}})).then(r => r.status)`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	poll("the login form after logout", `!document.getElementById('login').hidden`, 10*time.Second)
	login("watcher", "watcher-password")
	poll("the observer's map", `!document.querySelector('main').hidden && document.body.dataset.role === 'observer'`, 10*time.Second)
	if got, err := chromedp.Run(bctx, chromedp.Evaluate[int](controls)); err != nil || got != 0 {
		t.Fatalf("command controls shown to an observer: %d %v", got, err)
	}
	// …but the same live picture: the vehicles and the alerts.
	poll("the observer's vehicles and alerts", fmt.Sprintf(`document.querySelectorAll('#vehicles li[data-vehicle-id]').length === %d && document.querySelector('#alerts li[data-kind="fence_breach"][data-acked="true"]')?.textContent.includes('✓ pilot')`, n), 30*time.Second)
	forged, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`(async () => {
		const rtl = (headers) => fetch('/api/v1/commands/rtl', {method: 'POST', headers: {'Content-Type': 'application/json', ...headers}, body: '{"all":true}'})
			.then(async r => r.status + ' ' + (await r.json()).error.code);
		const s = await fetch('/api/v1/session').then(r => r.json());
		return [await rtl({}), await rtl({'X-CSRF-Token': s.csrf_token})];
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if len(forged) != 2 || forged[0] != "403 csrf" || forged[1] != "403 forbidden" {
		t.Fatalf("observer's forged POSTs answered %v, want [403 csrf, 403 forbidden]", forged)
	}
	es, err := a.Audit.Query(audit.Filter{Actor: "watcher", Route: "/commands/"})
	if err != nil || len(es) != 2 || es[0].Result != "csrf" || es[1].Result != "forbidden" {
		t.Fatalf("the observer's refused commands are not audited as such: %+v %v", es, err)
	}
}

// startApp runs the whole station (app.Run) with cfg until the test ends,
// waits until it serves, and checks that it stops cleanly.
func startApp(t *testing.T, cfg app.Config) *app.App {
	t.Helper()
	a := app.New(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("app: %v", err)
		}
	})
	select {
	case <-a.Ready():
	case err := <-runErr:
		t.Fatalf("app did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("app not ready after 30 s")
	}
	return a
}
