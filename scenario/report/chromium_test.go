package report

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/burgut-uav/burgut/internal/testenv/chromium"
)

// The report in a real browser, opened from disk with every network
// route closed (a dead proxy): the only request is the file itself, no
// script error is thrown, the map and every plot are laid out with
// non-zero size, and the timeline filters hide and show rows. A
// screenshot goes to artifacts/scenario-report.png.
func TestReportInChromium(t *testing.T) {
	browser := chromium.Binary(t)
	r := synthetic()
	r.Rehearsal = rehearsal()
	r.Scenario = hostileName
	path := filepath.Join(t.TempDir(), "report.html")
	if err := WriteFile(path, r); err != nil {
		t.Fatal(err)
	}

	// chromedp enables the Network and Runtime domains itself; the
	// listener records every request and every uncaught script error.
	var mu sync.Mutex
	var requests, exceptions []string
	bctx := chromium.Open(t, browser, chromium.Options{
		// Anything the page tried to fetch would go to a port nobody
		// listens on.
		Flags:  []chromedp.ExecAllocatorOption{chromedp.ProxyServer("http://127.0.0.1:9"), chromedp.Flag("proxy-bypass-list", "<-loopback>")},
		Width:  1300,
		Height: 900,
		Listener: func(ev any) {
			mu.Lock()
			defer mu.Unlock()
			switch e := ev.(type) {
			case *network.EventRequestWillBeSent:
				requests = append(requests, e.Request.URL)
			case *runtime.EventExceptionThrown:
				d := e.ExceptionDetails
				msg := d.Text
				if d.Exception != nil {
					msg += " " + d.Exception.Description
				}
				exceptions = append(exceptions, fmt.Sprintf("%s (line %d)", msg, d.LineNumber))
			}
		},
	})
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+path), chromedp.WaitReady("body")); err != nil {
		t.Fatalf("open the report in chromium: %v", err)
	}

	type measured struct {
		Title      string    `json:"title"`
		MapW       float64   `json:"mapW"`
		MapH       float64   `json:"mapH"`
		TrackLens  []float64 `json:"trackLens"`
		Plots      int       `json:"plots"`
		SeriesLens []float64 `json:"seriesLens"`
		Fences     int       `json:"fences"`
		Faults     int       `json:"faults"`
	}
	const measure = `(() => {
		const m = document.getElementById('map').getBoundingClientRect();
		return {
			title: document.title,
			mapW: m.width, mapH: m.height,
			trackLens: [...document.querySelectorAll('#map path.track')].map(p => p.getTotalLength() * (p.getBoundingClientRect().width > 0 ? 1 : 0)),
			plots: document.querySelectorAll('svg.plot').length,
			seriesLens: [...document.querySelectorAll('svg.plot path.series')].map(p => p.getBoundingClientRect().width > 0 ? p.getTotalLength() : 0),
			fences: document.querySelectorAll('#map path.fence').length,
			faults: document.querySelectorAll('#map g.fault-marker').length,
		};
	})()`
	layout, err := chromedp.Run(ctx, chromedp.Evaluate[measured](measure))
	if err != nil {
		t.Fatal(err)
	}
	if layout.Title != "Scenario report: "+hostileName {
		t.Errorf("document title %q", layout.Title)
	}
	if layout.MapW < 100 || layout.MapH < 100 {
		t.Errorf("map laid out %vx%v", layout.MapW, layout.MapH)
	}
	if len(layout.TrackLens) != len(r.Tracks) {
		t.Errorf("%d tracks on the map, want %d", len(layout.TrackLens), len(r.Tracks))
	}
	for i, l := range layout.TrackLens {
		if l <= 0 {
			t.Errorf("track %d not drawn (length %v)", i, l)
		}
	}
	if layout.Plots != 2*len(r.Tracks) || len(layout.SeriesLens) != 2*len(r.Tracks) {
		t.Errorf("%d plots with %d series, want %d", layout.Plots, len(layout.SeriesLens), 2*len(r.Tracks))
	}
	for i, l := range layout.SeriesLens {
		if l <= 0 {
			t.Errorf("plot series %d not drawn", i)
		}
	}
	if layout.Fences != 1 || layout.Faults != 1 {
		t.Errorf("%d fences and %d fault markers on the map, want 1 and 1", layout.Fences, layout.Faults)
	}

	// The filters: untick "fault", then show only v1's failed rows.
	visible := func() (n int) {
		kinds, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('#timeline tbody tr')].filter(r => r.getClientRects().length > 0).map(r => r.dataset.kind).join(',')`))
		if err != nil {
			t.Fatal(err)
		}
		if kinds == "" {
			return 0
		}
		return len(strings.Split(kinds, ","))
	}
	if n := visible(); n != len(r.Timeline) {
		t.Fatalf("%d timeline rows visible before filtering, want %d", n, len(r.Timeline))
	}
	if err := chromedp.Do(ctx, chromedp.Click(`#filters input[value="fault"]`)); err != nil {
		t.Fatal(err)
	}
	if n := visible(); n != len(r.Timeline)-2 {
		t.Errorf("%d rows visible with faults hidden, want %d", n, len(r.Timeline)-2)
	}
	if err := chromedp.Do(ctx,
		chromedp.SetValue(`#f-vehicle`, "v2"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('f-vehicle').dispatchEvent(new Event('change', {bubbles: true}))`),
		chromedp.Click(`#f-failed`),
	); err != nil {
		t.Fatal(err)
	}
	if n := visible(); n != 1 {
		t.Errorf("%d rows visible for v2's failures, want 1 (the failed assertion)", n)
	}
	count, err := chromedp.Run(ctx, chromedp.Text(`#f-count`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "1 of 7 shown"; count != want {
		t.Errorf("filter count %q, want %q", count, want)
	}

	chromium.Screenshot(ctx, t, "scenario-report.png")

	mu.Lock()
	defer mu.Unlock()
	for _, u := range requests {
		if u != "file://"+path {
			t.Errorf("the report requested %s", u)
		}
	}
	if len(requests) == 0 {
		t.Error("no request seen at all: the network listener is not working, so the check above proves nothing")
	}
	for _, e := range exceptions {
		t.Errorf("script error in the report: %s", e)
	}
}
