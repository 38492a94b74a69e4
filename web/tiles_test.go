package web_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/app"
)

// The map's base layer in Chromium. Offline by default: the page loads
// nothing but the station's own files (no tile, no attribution). With
// --map-tiles pointing at a tile server (here one on 127.0.0.1 that
// counts its requests) the map draws its tiles — the Content-Security-
// Policy lets that one origin through — and shows --map-attribution.
func TestConsoleMapTiles(t *testing.T) {
	c := startConsole(t, "tiles-offline", 1, 1, func(cfg *app.Config) { cfg.Sim.Demo = false })
	c.login("pilot")
	c.poll("the vehicle on the map", `document.querySelectorAll('#vehicles li[data-vehicle-id]:not([data-lat="0"])').length === 1`, 60*time.Second)
	if got := eval[[]string](c, `performance.getEntriesByType('resource').map(e => e.name).filter(u => !u.startsWith(location.origin + '/') && !u.startsWith('ws://' + location.host + '/'))`); len(got) != 0 {
		t.Fatalf("the offline page requested other origins: %v", got)
	}
	if n := eval[int](c, `document.querySelectorAll('.leaflet-tile, .leaflet-control-attribution').length`); n != 0 {
		t.Fatalf("the offline map has %d tiles or attributions", n)
	}

	var requests atomic.Int64
	img := image.NewRGBA(image.Rect(0, 0, 256, 256))
	for i := range img.Pix {
		img.Pix[i] = 0x80
	}
	img.Set(0, 0, color.White)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	tiles := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(buf.Bytes())
	}))
	t.Cleanup(tiles.Close)
	const credit = "© Test City GIS"
	d := startConsole(t, "tiles-city", 1, 1, func(cfg *app.Config) {
		cfg.Sim.Demo = false
		cfg.MapTiles = tiles.URL + "/{z}/{x}/{y}.png"
		cfg.MapAttribution = credit
	})
	d.login("pilot")
	d.poll("tiles drawn from the tile server", `document.querySelectorAll('img.leaflet-tile.leaflet-tile-loaded').length > 0`, 30*time.Second)
	if got := eval[string](d, `document.querySelector('.leaflet-control-attribution')?.textContent || ''`); !strings.Contains(got, credit) {
		t.Fatalf("attribution %q, want it to name %q", got, credit)
	}
	if requests.Load() == 0 {
		t.Fatal("the tile server was never asked")
	}
	d.shot("map")
}
