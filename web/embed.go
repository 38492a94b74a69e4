// Package web serves Burgut's live map: the front-end in src/ (Leaflet,
// bundled by esbuild through `make web`) is built into dist/ and embedded
// in the binary, so the map needs no file on disk and no tile server.
//
// A fresh clone compiles before the npm build (dist/ holds only .keep);
// the map then answers with a page telling the operator to run `make web`.
package web

import (
	"bytes"
	"embed"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
)

//go:embed all:dist
var dist embed.FS

// Built reports whether the front-end was built into the binary.
func Built() bool {
	_, err := fs.Stat(dist, "dist/index.html")
	return err == nil
}

// Options configure the page for one station.
type Options struct {
	// MapTiles is an XYZ tile URL template ({z}/{x}/{y}, optional {s}) for
	// the map's base layer; empty keeps the offline plain background, so
	// no request leaves the machine unless one is configured.
	MapTiles string
	// MapAttribution is shown on the map when tiles are configured.
	MapAttribution string
}

// TileSource checks a tile URL template and returns the Content-Security-
// Policy source that lets the page load its images ("" for no template).
// {s} subdomains become a wildcard host.
func TileSource(template string) (string, error) {
	if template == "" {
		return "", nil
	}
	for _, p := range []string{"{z}", "{x}", "{y}"} {
		if !strings.Contains(template, p) {
			return "", fmt.Errorf("map-tiles %q: want an XYZ URL template with {z}, {x} and {y}", template)
		}
	}
	u, err := url.Parse(strings.ReplaceAll(template, "{s}", "s"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("map-tiles %q: want an http:// or https:// URL template", template)
	}
	host := u.Host
	if strings.Contains(template, "{s}.") {
		host = "*" + strings.TrimPrefix(host, "s")
	}
	if strings.ContainsAny(host, " ;,'{}") {
		return "", fmt.Errorf("map-tiles %q: host %q cannot be allowed in a Content-Security-Policy", template, host)
	}
	return u.Scheme + "://" + host, nil
}

// Handler serves the map with the offline background; see NewHandler.
func Handler() http.Handler { return NewHandler(Options{}) }

// NewHandler serves the map at / and its assets; register it on "GET /".
// The page reads the tile settings from meta tags filled in here (the
// Content-Security-Policy forbids inline scripts). Unknown paths under /
// get 404, not the map, so API typos stay visible.
func NewHandler(o Options) http.Handler {
	sub, _ := fs.Sub(dist, "dist")
	files := http.FileServerFS(sub)
	index, _ := fs.ReadFile(sub, "index.html")
	index = bytes.Replace(index, []byte(`<meta name="burgut-map-tiles" content="">`),
		[]byte(`<meta name="burgut-map-tiles" content="`+html.EscapeString(o.MapTiles)+`">`), 1)
	index = bytes.Replace(index, []byte(`<meta name="burgut-map-attribution" content="">`),
		[]byte(`<meta name="burgut-map-attribution" content="`+html.EscapeString(o.MapAttribution)+`">`), 1)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !Built() {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(notBuilt))
			return
		}
		if strings.HasSuffix(r.URL.Path, "/.keep") {
			http.NotFound(w, r)
			return
		}
		if r.URL.Path == "/" || r.URL.Path == "/index.html" {
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(index)
			return
		} else {
			w.Header().Set("Cache-Control", "public, max-age=300")
		}
		files.ServeHTTP(w, r)
	})
}

const notBuilt = `<!doctype html><meta charset="utf-8"><title>Burgut — map not built</title>
<body style="font:15px system-ui;margin:3em">
<h1>The live map was not built into this binary</h1>
<p>Run <code>make web</code> (or <code>make build</code>) to build the front-end with npm, then rebuild Burgut.
The API and the <code>/api/v1/stream</code> WebSocket work without it.</p>`
