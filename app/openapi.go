package app

import (
	_ "embed"
	"net/http"

	"github.com/burgut-uav/burgut/httpapi"
)

// openAPIDoc is the OpenAPI 3.0 description of every HTTP route Burgut
// serves. openapi_test.go fails when a route is added without documenting
// it, or a documented route is not served.
//
//go:embed openapi.yaml
var openAPIDoc []byte

// registerOpenAPI serves the API description at GET /api/v1/openapi.yaml,
// for code generators, Swagger UI and the monitoring center's integrators.
func registerOpenAPI(mux *httpapi.Mux) {
	mux.HandleFunc(http.MethodGet, "/api/v1/openapi.yaml", httpapi.Observer, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(openAPIDoc) // the client went away; nothing to do
	})
}
