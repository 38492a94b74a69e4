// Package web serves Burgut's live map: the front-end in src/ (Leaflet,
// bundled by esbuild through `make web`) is built into dist/ and embedded
// in the binary, so the map needs no file on disk and no tile server.
//
// A fresh clone compiles before the npm build (dist/ holds only .keep);
// the map then answers with a page telling the operator to run `make web`.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed all:dist
var dist embed.FS

// Built reports whether the front-end was built into the binary.
func Built() bool {
	_, err := fs.Stat(dist, "dist/index.html")
	return err == nil
}

// Handler serves the map at / and its assets; register it on "GET /".
// Unknown paths under / get 404, not the map, so API typos stay visible.
func Handler() http.Handler {
	sub, _ := fs.Sub(dist, "dist")
	files := http.FileServerFS(sub)
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
