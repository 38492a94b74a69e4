package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/burgut-uav/burgut/audit"
	"github.com/burgut-uav/burgut/auth"
	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation"
	"github.com/burgut-uav/burgut/groundstation/alertack"
	"github.com/burgut-uav/burgut/groundstation/control"
	"github.com/burgut-uav/burgut/groundstation/session"
	"github.com/burgut-uav/burgut/groundstation/vehicleapi"
	"github.com/burgut-uav/burgut/httpapi"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"github.com/burgut-uav/burgut/missions"
	"github.com/burgut-uav/burgut/missions/missionsapi"
	"github.com/burgut-uav/burgut/missions/operations"
	"github.com/burgut-uav/burgut/relay"
	"github.com/burgut-uav/burgut/telemetry"
)

// The OpenAPI document (openapi.yaml) must describe exactly the routes the
// code registers. The routes are found two ways that must agree: in the
// source of every package the app is built from (every Handle/HandleFunc
// call, whose pattern must be a string literal so it can be checked), and in
// the ServeMux of a running App, which must resolve each of them to itself.

type oaDoc map[string]any

func loadOpenAPI(t *testing.T) oaDoc {
	t.Helper()
	raw, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, openAPIDoc) {
		t.Fatal("the embedded openapi.yaml differs from the file (rebuild)")
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	return oaDoc(doc)
}

var oaMethods = []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}

type oaOp struct {
	method, path string // "GET", "/api/v1/vehicles/{id}"
	op           map[string]any
	pathItem     map[string]any
}

func (o oaOp) String() string { return o.method + " " + o.path }

func (d oaDoc) operations(t *testing.T) []oaOp {
	t.Helper()
	paths, ok := d["paths"].(map[string]any)
	if !ok {
		t.Fatal("openapi.yaml has no paths")
	}
	var out []oaOp
	for p, v := range paths {
		item, _ := v.(map[string]any)
		for _, m := range oaMethods {
			if op, ok := item[m].(map[string]any); ok {
				out = append(out, oaOp{strings.ToUpper(m), p, op, item})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// resolve follows a local $ref ("#/components/...").
func (d oaDoc) resolve(v any) (any, error) {
	for range 10 {
		m, ok := v.(map[string]any)
		if !ok {
			return v, nil
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return v, nil
		}
		if !strings.HasPrefix(ref, "#/") {
			return nil, fmt.Errorf("$ref %q is not local", ref)
		}
		var cur any = map[string]any(d)
		for _, part := range strings.Split(ref[2:], "/") {
			cm, ok := cur.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("$ref %q does not resolve", ref)
			}
			if cur, ok = cm[part]; !ok {
				return nil, fmt.Errorf("$ref %q does not resolve", ref)
			}
		}
		v = cur
	}
	return nil, fmt.Errorf("$ref chain too long")
}

// params lists an operation's parameters (path-level and its own), resolved.
func (d oaDoc) params(t *testing.T, o oaOp) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, src := range []any{o.pathItem["parameters"], o.op["parameters"]} {
		list, _ := src.([]any)
		for _, p := range list {
			r, err := d.resolve(p)
			if err != nil {
				t.Errorf("%s: %v", o, err)
				continue
			}
			m, _ := r.(map[string]any)
			out = append(out, m)
		}
	}
	return out
}

// sampleValue is a value for a path parameter that routes like a real one:
// its first enum value, else its example, else "x".
func (d oaDoc) sampleValue(p map[string]any) string {
	s, _ := d.resolve(p["schema"])
	schema, _ := s.(map[string]any)
	if enum, ok := schema["enum"].([]any); ok && len(enum) > 0 {
		return fmt.Sprint(enum[0])
	}
	for _, v := range []any{p["example"], schema["example"]} {
		if v != nil {
			return fmt.Sprint(v)
		}
	}
	return "x"
}

var wildcard = regexp.MustCompile(`\{([^}]*)\}`)

func fillPath(path string, values map[string]string) string {
	return wildcard.ReplaceAllStringFunc(path, func(w string) string {
		v, ok := values[w[1:len(w)-1]]
		if !ok {
			v = "x"
		}
		return url.PathEscape(v)
	})
}

func TestOpenAPIDocumentIsWellFormed(t *testing.T) {
	doc := loadOpenAPI(t)
	if v, _ := doc["openapi"].(string); v != "3.0.3" {
		t.Errorf("openapi: %q, want 3.0.3", v)
	}
	// Every $ref resolves.
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if _, ok := v["$ref"]; ok {
				if _, err := doc.resolve(v); err != nil {
					t.Errorf("%s: %v", where, err)
				}
			}
			for k, c := range v {
				walk(where+"/"+k, c)
			}
		case []any:
			for i, c := range v {
				walk(fmt.Sprintf("%s[%d]", where, i), c)
			}
		}
	}
	walk("#", map[string]any(doc))

	ids := map[string]string{}
	for _, o := range doc.operations(t) {
		for _, k := range []string{"summary", "operationId", "tags"} {
			if o.op[k] == nil {
				t.Errorf("%s: no %s", o, k)
			}
		}
		if id, _ := o.op["operationId"].(string); id != "" {
			if prev, dup := ids[id]; dup {
				t.Errorf("%s: operationId %q is also %s's", o, id, prev)
			}
			ids[id] = o.String()
		}
		resps, _ := o.op["responses"].(map[string]any)
		if len(resps) == 0 {
			t.Errorf("%s: no responses", o)
		}
		// Path parameters: every {name} declared, nothing else declared.
		inPath := map[string]bool{}
		for _, m := range wildcard.FindAllStringSubmatch(o.path, -1) {
			inPath[m[1]] = true
		}
		declared := map[string]bool{}
		for _, p := range doc.params(t, o) {
			if p["in"] == "path" {
				name, _ := p["name"].(string)
				declared[name] = true
				if p["required"] != true {
					t.Errorf("%s: path parameter %q must be required", o, name)
				}
				if !inPath[name] {
					t.Errorf("%s: declares path parameter %q not in the path", o, name)
				}
			}
		}
		for name := range inPath {
			if !declared[name] {
				t.Errorf("%s: path parameter {%s} is not declared", o, name)
			}
		}
	}
}

// appPackages lists the directories (relative to the module root) of this
// module's packages the app is built from, app itself included.
func appPackages(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	modPath := ""
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "module "); ok {
			modPath = strings.TrimSpace(rest)
			break
		}
	}
	f.Close()
	if modPath == "" {
		t.Fatal("no module line in ../go.mod")
	}
	fset := token.NewFileSet()
	seen := map[string]bool{"app": true}
	queue := []string{"app"}
	var out []string
	for len(queue) > 0 {
		dir := queue[0]
		queue = queue[1:]
		out = append(out, dir)
		entries, err := os.ReadDir(filepath.Join("..", dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(fset, filepath.Join("..", dir, name), nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range file.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if rel, ok := strings.CutPrefix(p, modPath+"/"); ok && !seen[rel] {
					seen[rel] = true
					queue = append(queue, rel)
				}
			}
		}
	}
	return out
}

// TestEveryRouteGoesThroughTheRouteTable keeps httpapi.Mux the one place
// routes are declared: outside httpapi no package of the binary may build
// its own http.ServeMux or register on net/http's default one, since such
// a route would have no access level and escape the access-control hook.
func TestEveryRouteGoesThroughTheRouteTable(t *testing.T) {
	fset := token.NewFileSet()
	pkgs := appPackages(t)
	if len(pkgs) < 10 {
		t.Fatalf("found only %d packages: the scan is broken", len(pkgs))
	}
	for _, dir := range pkgs {
		if dir == "httpapi" {
			continue
		}
		entries, err := os.ReadDir(filepath.Join("..", dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(fset, filepath.Join("..", dir, name), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "http" {
					switch sel.Sel.Name {
					case "ServeMux", "NewServeMux", "Handle", "HandleFunc", "DefaultServeMux":
						t.Errorf("%s: http.%s: declare routes as httpapi.Route on the app's httpapi.Mux", fset.Position(sel.Pos()), sel.Sel.Name)
					}
				}
				return true
			})
		}
	}
}

// appRoutes is the route table of a running App: pattern → route.
func appRoutes(t *testing.T, a *App) map[string]httpapi.Route {
	t.Helper()
	routes := map[string]httpapi.Route{}
	for _, r := range a.Mux.Routes() {
		routes[r.String()] = r
	}
	if len(routes) < 10 {
		t.Fatalf("the app registered only %d routes", len(routes))
	}
	return routes
}

// TestRouteAccessLevels checks the access policy every route declares:
// health, login and the web map's files (the login page) are open to
// anyone, reading is for observers, anything that changes state is for
// operators, and accounts, tokens and the audit log are for admins. The
// guard (app/auth.go) enforces these levels.
func TestRouteAccessLevels(t *testing.T) {
	a := startOpenAPITestApp(t)
	anonymous := map[string]bool{"GET /api/v1/health": true, "GET /": true, "POST /api/v1/login": true}
	// Anyone logged in may log out and change their own password.
	observer := map[string]bool{"POST /api/v1/logout": true, "PUT /api/v1/session/password": true,
		// watching video is reading: a WHEP session is how a viewer reads it
		"POST /api/v1/vehicles/{id}/video/{stream_id}/whep":             true,
		"DELETE /api/v1/vehicles/{id}/video/{stream_id}/whep/{session}": true,
	}
	for key, r := range appRoutes(t, a) {
		want := httpapi.Operator
		switch {
		case anonymous[key]:
			want = httpapi.Anonymous
		case strings.HasPrefix(r.Pattern, "/api/v1/users") || strings.HasPrefix(r.Pattern, "/api/v1/tokens") || r.Pattern == "/api/v1/audit",
			strings.HasSuffix(r.Pattern, "/signing") && r.Method != http.MethodGet: // signing keys are configuration
			want = httpapi.Admin
		case observer[key], r.Method == http.MethodGet || r.Method == http.MethodHead:
			want = httpapi.Observer
		}
		if r.Access != want {
			t.Errorf("%s declares access %v, want %v", key, r.Access, want)
		}
	}
}

// startOpenAPITestApp runs the whole service on loopback addresses, so the
// mux holds every route that Run registers.
func startOpenAPITestApp(t *testing.T) *App {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	cfg := Default()
	cfg.HTTP = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Station = "openapi-test"
	cfg.GroundStation.MAVLink = []string{fmt.Sprintf("udp:127.0.0.1:%d", port)}
	cfg.Relay.MQTTListen = "127.0.0.1:0" // the embedded broker, so /mqtt is served
	cfg.Sim.Vehicles = 0
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-a.Ready():
	case err := <-done:
		done <- err
		t.Fatalf("app stopped while starting: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("app did not start")
	}
	authorizeTests(t, a)
	return a
}

func TestOpenAPIDocumentsExactlyTheRegisteredRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	a := startOpenAPITestApp(t)
	routes := appRoutes(t, a)
	documented := map[string]oaOp{}
	for _, o := range doc.operations(t) {
		documented[o.String()] = o
	}

	// Every route the app declares is documented, and served by its mux.
	for pattern, r := range routes {
		method, path := r.Method, r.Pattern
		if _, ok := documented[pattern]; !ok {
			t.Errorf("route %q is not documented in app/openapi.yaml", pattern)
		}
		values := map[string]string{}
		if o, ok := documented[pattern]; ok {
			for _, p := range doc.params(t, o) {
				if p["in"] == "path" {
					values[p["name"].(string)] = doc.sampleValue(p)
				}
			}
		}
		req := httptestRequest(t, method, fillPath(path, values))
		if _, got := a.Mux.Handler(req); got != pattern {
			t.Errorf("route %q: the app's mux routes %s %s to %q, not to it", pattern, req.Method, req.URL.Path, got)
		}
	}

	// Every documented operation exists in the source, and a request to it
	// reaches a handler that answers with a documented status.
	for key, o := range documented {
		if _, ok := routes[key]; !ok {
			t.Errorf("%s is documented but the app does not register it", key)
			continue
		}
		values := map[string]string{}
		for _, p := range doc.params(t, o) {
			if p["in"] == "path" {
				values[p["name"].(string)] = doc.sampleValue(p)
			}
		}
		checkLiveRoute(t, a, o, fillPath(o.path, values))
	}
}

func httptestRequest(t *testing.T, method, path string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, "http://burgut.test"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// checkLiveRoute requests a documented operation over HTTP. Without
// vehicles most handlers refuse (unknown vehicle, missing fields), which is
// fine; what must not happen is the mux's own plain-text 404 or its 405, or
// a status the document does not list.
func checkLiveRoute(t *testing.T, a *App, o oaOp, path string) {
	t.Helper()
	var body io.Reader
	if o.method == "POST" || o.method == "PUT" {
		body = strings.NewReader("{}")
	}
	req, err := http.NewRequest(o.method, "http://"+a.HTTPAddr()+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Errorf("%s (%s): %v", o, path, err)
		return
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case resp.StatusCode == http.StatusMethodNotAllowed:
		t.Errorf("%s (%s): 405 from the mux: %q", o, path, raw)
	case resp.StatusCode == http.StatusNotFound && ct != "application/json":
		t.Errorf("%s (%s): 404 without a JSON error (the mux's own?): %q", o, path, raw)
	}
	resps, _ := o.op["responses"].(map[string]any)
	if _, ok := resps[strconv.Itoa(resp.StatusCode)]; !ok && resps["default"] == nil {
		t.Errorf("%s (%s): answered %d, which the document does not list (body %q)", o, path, resp.StatusCode, raw)
	}
	if resp.StatusCode >= 400 && ct == "application/json" {
		var e struct {
			Error *httpapi.Error `json:"error"`
		}
		if err := json.Unmarshal(raw, &e); err != nil || e.Error == nil || e.Error.Code == "" {
			t.Errorf("%s (%s): %d is not an error object: %q", o, path, resp.StatusCode, raw)
		}
	}
}

func TestOpenAPIIsServed(t *testing.T) {
	mux := httpapi.NewMux()
	registerOpenAPI(mux)
	req := httptestRequest(t, "GET", "/api/v1/openapi.yaml")
	rec := &recorder{header: http.Header{}}
	mux.ServeHTTP(rec, req)
	if rec.status != 0 && rec.status != http.StatusOK {
		t.Fatalf("status %d", rec.status)
	}
	if ct := rec.header.Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("Content-Type %q", ct)
	}
	file, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rec.body.Bytes(), file) {
		t.Error("GET /api/v1/openapi.yaml does not serve app/openapi.yaml")
	}
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(status int)      { r.status = status }

// jsonFields lists the JSON object keys of a struct type as encoding/json
// writes them, and whether each is always present (no omitempty).
func jsonFields(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = !slices.Contains(strings.Split(opts, ","), "omitempty")
	}
	return out
}

// TestOpenAPISchemasMatchGoTypes keeps the schemas' properties equal to the
// JSON fields of the Go types the handlers encode, and "required" equal to
// the fields always written. A new schema must be added to one of the two
// lists below.
func TestOpenAPISchemasMatchGoTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	mirrors := map[string]struct {
		typ     any
		request bool // a request body: fields are optional, required is not checked
	}{
		"Error":              {typ: httpapi.Error{}},
		"Vehicle":            {typ: fleet.Vehicle{}},
		"Point":              {typ: fleet.Point{}},
		"LinkQuality":        {typ: fleet.LinkQuality{}},
		"VideoStream":        {typ: fleet.VideoStream{}},
		"Event":              {typ: fleet.Event{}},
		"LinkInfo":           {typ: groundstation.LinkInfo{}},
		"CommandArgs":        {typ: vehicleapi.CommandArgs{}, request: true},
		"CommandResponse":    {typ: vehicleapi.CommandResponse{}},
		"GroupResult":        {typ: groundstation.GroupResult{}},
		"GroupResponse":      {typ: vehicleapi.GroupResponse{}},
		"Item":               {typ: mavitem.Item{}},
		"UploadRequest":      {typ: vehicleapi.UploadArgs{}, request: true},
		"UploadReport":       {typ: groundstation.UploadReport{}},
		"Param":              {typ: session.Param{}},
		"PlanOptions":        {typ: missions.PlanOptions{}, request: true},
		"Home":               {typ: missions.Home{}},
		"Site":               {typ: missions.Site{}},
		"ParamValue":         {typ: missions.ParamValue{}},
		"DronePlan":          {typ: missions.DronePlan{}},
		"Violation":          {typ: missions.Violation{}},
		"PlanSet":            {typ: missionsapi.PlanSet{}},
		"AssignResult":       {typ: missionsapi.AssignResult{}},
		"Track":              {typ: telemetry.Track{}},
		"Flight":             {typ: telemetry.Flight{}},
		"Sample":             {typ: telemetry.Sample{}},
		"RecorderStats":      {typ: telemetry.RecorderStats{}},
		"PublisherStats":     {typ: relay.PublisherStats{}},
		"HubStats":           {typ: relay.HubStats{}},
		"StreamFilter":       {typ: relay.Filter{}},
		"StreamFrame":        {typ: relay.Frame{}},
		"Principal":          {typ: auth.Principal{}},
		"User":               {typ: auth.User{}},
		"Token":              {typ: auth.Token{}},
		"CreatedToken":       {typ: auth.CreatedToken{}},
		"AuditEntry":         {typ: audit.Entry{}},
		"LoginRequest":       {typ: auth.LoginRequest{}, request: true},
		"UserRequest":        {typ: auth.UserRequest{}, request: true},
		"TokenRequest":       {typ: auth.TokenRequest{}, request: true},
		"PasswordChange":     {typ: auth.PasswordChange{}, request: true},
		"SigningInfo":        {typ: groundstation.SigningInfo{}},
		"SigningRequest":     {typ: signingRequest{}, request: true},
		"ControlView":        {typ: vehicleapi.ControlView{}},
		"Transfer":           {typ: fleet.Transfer{}},
		"AlertAck":           {typ: alertack.Ack{}},
		"ControlHold":        {typ: control.Hold{}},
		"ControlState":       {typ: control.State{}},
		"TakeRequest":        {typ: control.TakeRequest{}, request: true},
		"ControlResult":      {typ: control.Result{}},
		"ControlGroupResult": {typ: control.GroupResult{}},
		"OperationRequest":   {typ: operations.CreateRequest{}, request: true},
	}
	// Schemas with no Go type to compare with, and why.
	unmirrored := map[string]string{
		"ErrorCode":                "an enum of httpapi's codes, checked below",
		"ErrorResponse":            "the {\"error\": …} wrapper of httpapi.WriteError",
		"Health":                   "a map literal in startHTTP",
		"GroupTargets":             "the group fields of commandBody and uploadBody, checked there",
		"ListType":                 "mavitem.ParseMissionType's names",
		"ItemList":                 "a map literal in download",
		"GeoJSONFeatureCollection": "GeoJSON, validated by missions.ImportGeoJSON",
		"AreaSummary":              "missionsapi's unexported areaSummary",
		"AssignRequest":            "missionsapi's unexported assignRequest",
		"AssignResponse":           "a map literal in missionsapi's assign",
		"RelayStatus":              "a map built in startRelay",
		"StreamVehicle":            "relay.WireVehicle: Vehicle (checked) plus stale",
		"Role":                     "auth.Role's names (ParseRole)",
		"VehicleView":              "vehicleapi.VehicleView: Vehicle (checked) plus control (ControlView, checked)",
		"EventView":                "vehicleapi.EventView: Event (checked) plus ack (AlertAck, checked)",
		"Operation":                "operations.OperationView with nested slot and vehicle states; its contract fields are checked by the operations integration tests",
	}
	schemas, _ := doc["components"].(map[string]any)["schemas"].(map[string]any)
	for name := range schemas {
		if _, ok := mirrors[name]; !ok && unmirrored[name] == "" {
			t.Errorf("schema %s: add it to the mirrored types or to the unmirrored list of this test", name)
		}
	}
	for name, m := range mirrors {
		s, ok := schemas[name].(map[string]any)
		if !ok {
			t.Errorf("schema %s is missing", name)
			continue
		}
		props, _ := s["properties"].(map[string]any)
		required := map[string]bool{}
		reqList, _ := s["required"].([]any)
		for _, r := range reqList {
			required[r.(string)] = true
		}
		fields := jsonFields(reflect.TypeOf(m.typ))
		for f, always := range fields {
			if _, ok := props[f]; !ok {
				t.Errorf("schema %s lacks property %q of %T", name, f, m.typ)
			}
			if !m.request && always != required[f] {
				t.Errorf("schema %s: %q must be required exactly when %T always writes it (no omitempty): required=%v, always written=%v", name, f, m.typ, required[f], always)
			}
		}
		for p := range props {
			if _, ok := fields[p]; !ok {
				t.Errorf("schema %s has property %q that %T does not have", name, p, m.typ)
			}
		}
		if m.request && len(reqList) > 0 && name != "UploadRequest" {
			t.Errorf("schema %s is a request body whose fields are all optional, but lists required %v", name, reqList)
		}
	}

	// The error codes are httpapi's, each with the status WriteError gives it.
	codes, _ := schemas["ErrorCode"].(map[string]any)["enum"].([]any)
	want := []string{httpapi.CodeInvalid, httpapi.CodeNotFound, httpapi.CodeConflict, httpapi.CodeRefused, httpapi.CodeTimeout,
		httpapi.CodeUnavailable, httpapi.CodeForbidden, httpapi.CodeInternal, httpapi.CodeTooLarge, httpapi.CodeUnsupported, httpapi.CodeMethodNotAll,
		httpapi.CodeUnauthorized, httpapi.CodeCSRF, httpapi.CodeRateLimited, httpapi.CodeControlled}
	var got []string
	for _, c := range codes {
		got = append(got, c.(string))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("ErrorCode enum %v, want httpapi's codes %v", got, want)
	}
	desc, _ := schemas["ErrorCode"].(map[string]any)["description"].(string)
	for _, c := range want {
		rec := &recorder{header: http.Header{}}
		httpapi.WriteError(rec, httptestRequest(t, "GET", "/"), nil, httpapi.New(c, "x"))
		if !strings.Contains(desc, fmt.Sprintf("`%s` %d", c, rec.status)) {
			t.Errorf("ErrorCode description does not say `%s` %d", c, rec.status)
		}
	}
}

// Every fleet.EventKind constant is in the Event schema's enum, and the
// enum names nothing else: a consumer validating events against the
// document must accept every kind the station emits.
func TestOpenAPIEventKindsMatchFleet(t *testing.T) {
	fset := token.NewFileSet()
	dir := filepath.Join("..", "fleet")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, e := range ents {
		if n := e.Name(); strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
	}
	var code []string
	for _, f := range files {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "EventKind" {
					continue
				}
				for _, v := range vs.Values {
					if lit, ok := v.(*ast.BasicLit); ok {
						s, _ := strconv.Unquote(lit.Value)
						code = append(code, s)
					}
				}
			}
		}
	}
	if len(code) < 10 {
		t.Fatalf("found only %d EventKind constants in fleet: the parse is wrong", len(code))
	}
	doc := loadOpenAPI(t)
	ev := doc["components"].(map[string]any)["schemas"].(map[string]any)["Event"].(map[string]any)
	var enum []string
	for _, v := range ev["properties"].(map[string]any)["kind"].(map[string]any)["enum"].([]any) {
		enum = append(enum, v.(string))
	}
	sort.Strings(code)
	sort.Strings(enum)
	if !slices.Equal(code, enum) {
		t.Errorf("Event.kind enum in openapi.yaml = %v\nfleet's EventKind constants = %v", enum, code)
	}
}
