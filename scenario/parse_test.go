package scenario

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

const goodScenario = `name: two drones
duration: 10m
fleet:
  vehicles: 2
  home: {lat: 41.3123, lon: 69.2716}
world:
  speedup: 50
  areas:
    - name: square
      geojson:
        type: FeatureCollection
        features:
          - type: Feature
            properties: {kind: event-area, name: Square, min_alt_m: 20, max_alt_m: 80}
            geometry: {type: Polygon, coordinates: [[[69.2700, 41.3110], [69.2735, 41.3110], [69.2735, 41.3136], [69.2700, 41.3136], [69.2700, 41.3110]]]}
          - type: Feature
            properties: {kind: launch, name: Pad, radius_m: 20}
            geometry: {type: Point, coordinates: [69.2716, 41.3123]}
steps:
  - at: 0s
    plan: {area: square, as: patrol, pattern: perimeter, drones: 2}
  - at: 1s
    name: go
    assign: {plan: patrol, vehicles: all}
  - after: {step: go}
    launch: {vehicles: all}
  - when: {vehicle: 1, reaches_item: 3}
    command: {name: rtl, vehicles: trigger}
faults:
  - at: 60s
    kind: link_loss
    pct: 30
    for: 2m
assertions:
  - kind: all_landed
    by: 9m
  - kind: min_separation
    meters: 5
`

func TestGoodScenarioParses(t *testing.T) {
	sc, err := Parse("good.yaml", []byte(goodScenario))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Speedup() != 50 || sc.FleetSize() != 2 || len(sc.Steps) != 4 || sc.Seed != DefaultSeed || sc.EndWhen != EndLanded {
		t.Fatalf("parsed %+v", sc)
	}
	if !sc.Faults[0].Vehicles.All || sc.Assertions[1].Name != "min_separation" {
		t.Fatalf("defaults not applied: %+v %+v", sc.Faults[0], sc.Assertions[1])
	}
	if got := sc.Steps[3].node.Line; got != 27 {
		t.Fatalf("step 3 line %d, want 27", got)
	}
}

// Every kind of mistake is reported with the file, the line and the
// column of the offending key or value.
func TestValidationErrorsNameTheLine(t *testing.T) {
	cases := []struct {
		name, old, new, want string
	}{
		{"unknown key", "    pct: 30\n", "    pct: 30\n    percent: 30\n", "bad.yaml:33:5: unknown field \"percent\" in faults[0]"},
		{"bad duration", "by: 9m", "by: nine minutes", "bad.yaml:36:9: duration \"nine minutes\""},
		{"unknown area", "area: square, as", "area: circle, as", "bad.yaml:21:18: plan: no area named \"circle\""},
		{"vehicle out of range", "vehicle: 1, reaches", "vehicle: 5, reaches", "bad.yaml:27:21: vehicle 5: the fleet has 2"},
		{"trigger without vehicle", "  - after: {step: go}\n    launch: {vehicles: all}", "  - after: {step: go}\n    launch: {vehicles: trigger}", "bad.yaml:26:24: vehicles: trigger needs"},
		{"two triggers", "  - at: 1s\n    name: go", "  - at: 1s\n    when: {armed: true}\n    name: go", "bad.yaml:22:5: step go: give exactly one of at"},
		{"bad fault kind", "kind: link_loss", "kind: meteor", "bad.yaml:31:11: fault: kind \"meteor\""},
		{"type mismatch", "vehicles: 2\n", "vehicles: many\n", "bad.yaml:4:"},
		{"yaml syntax", "fleet:\n", "fleet: [\n", "bad.yaml:"},
		{"missing assertion parameter", "    meters: 5\n", "", "bad.yaml:37:5: assertion min_separation: min_separation needs meters"},
		{"bad area geojson", "min_alt_m: 20, max_alt_m: 80", "min_alt_m: 90, max_alt_m: 80", "bad.yaml:9:7: area \"square\""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(goodScenario, c.old, c.new, 1)
			if src == goodScenario {
				t.Fatalf("case does not change the scenario")
			}
			_, err := Parse("bad.yaml", []byte(src))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, c.want)
			}
			var e *Errors
			if c.name != "yaml syntax" && !errors.As(err, &e) {
				t.Fatalf("error %T is not *Errors", err)
			}
		})
	}
}

// Several problems are all reported at once, in line order.
func TestAllProblemsReported(t *testing.T) {
	src := strings.Replace(strings.Replace(goodScenario, "kind: link_loss", "kind: meteor", 1), "meters: 5", "meters: -1", 1)
	_, err := Parse("bad.yaml", []byte(src))
	var e *Errors
	if !errors.As(err, &e) || len(e.Problems) != 2 || e.Problems[0].Line > e.Problems[1].Line {
		t.Fatalf("got %v", err)
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// The stadium of the library says it flies its transits on the station's
// transit layer (its file says why it once did not): the step's
// transit_layer reaches the operation step, which sends it to the station
// only when given.
func TestStadiumOperationSetsTheTransitLayer(t *testing.T) {
	sc, err := ParseFile("../scenarios/stadium-perimeter-rotation.yaml")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range sc.Steps {
		if op := s.Operation; op != nil {
			n++
			if op.TransitLayer == nil || !*op.TransitLayer {
				t.Errorf("operation over %s: transit_layer %v, want true", op.Area, op.TransitLayer)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d operation steps, want 1", n)
	}
}
