// Package ui is sluice's web UI: a few static files embedded in the binary
// (HTML, CSS, plain JavaScript; nothing fetched from elsewhere) that drive
// the same v1 API a program would use. Every page has its own address under
// /ui/, holding what is shown (stream, position, filter, key, time), so a
// view can be shared as a link.
package ui

import (
	"bytes"
	"embed"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

//go:embed assets
var assets embed.FS

// pages are the first path segments under /ui/ that answer with the app.
var pages = map[string]bool{"streams": true, "sources": true, "pipelines": true, "tables": true, "functions": true, "cluster": true, "api": true,
	"signin": true, "tokens": true}

// Handler serves the UI: /ui/assets/... are the files, /ui/<page>/... the
// app's shell (it reads the address and asks the API for the rest), and /
// sends a browser to the streams page.
func Handler() http.Handler {
	sub, _ := fs.Sub(assets, "assets")
	index, _ := fs.ReadFile(sub, "index.html")
	files := http.StripPrefix("/ui/assets/", http.FileServerFS(sub))
	started := time.Now()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/streams", http.StatusFound)
	})
	mux.HandleFunc("GET /ui/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/streams", http.StatusFound)
	})
	mux.HandleFunc("GET /ui/assets/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache") // revalidated with Last-Modified: a new binary shows at once
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /ui/", func(w http.ResponseWriter, r *http.Request) {
		page, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/ui/"), "/")
		if !pages[page] {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		http.ServeContent(w, r, "index.html", started, bytes.NewReader(index))
	})
	return mux
}
