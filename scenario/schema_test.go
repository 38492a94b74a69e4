package scenario

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

const schemaPath = "../scenarios/schema.json"

func compileSchema(t *testing.T) (*jsonschema.Schema, map[string]any) {
	t.Helper()
	f, err := os.Open(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("schema.json")
	if err != nil {
		t.Fatalf("schema does not compile: %v", err)
	}
	return s, doc.(map[string]any)
}

// yamlToJSONValue decodes YAML into the generic values the validator takes.
func yamlToJSONValue(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(jsonable(v))
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytesReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The JSON Schema accepts every scenario the parser accepts (the test
// fixture and every file in the library), and refuses one with an
// unknown field.
func TestSchemaAcceptsLibraryAndFixture(t *testing.T) {
	s, _ := compileSchema(t)
	if err := s.Validate(yamlToJSONValue(t, []byte(goodScenario))); err != nil {
		t.Fatalf("fixture: %v", err)
	}
	files, _ := filepath.Glob("../scenarios/*.yaml")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(f, data); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if err := s.Validate(yamlToJSONValue(t, data)); err != nil {
			t.Errorf("%s against the schema: %v", f, err)
		}
	}
	bad := yamlToJSONValue(t, []byte(goodScenario+"colour: red\n"))
	if s.Validate(bad) == nil {
		t.Fatal("schema accepted an unknown top-level field")
	}
}

// The schema names exactly the fields the Go types read, definition by
// definition, so neither can grow a field the other does not know.
func TestSchemaMatchesTypes(t *testing.T) {
	_, doc := compileSchema(t)
	defs := doc["$defs"].(map[string]any)
	props := func(def map[string]any) []string {
		var out []string
		for k := range def["properties"].(map[string]any) {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	fields := func(v any) []string {
		m := map[string]reflect.Type{}
		collectFields(reflect.TypeOf(v), m)
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	pairs := []struct {
		def map[string]any
		typ any
	}{
		{doc, Scenario{}}, {defs["fleet"].(map[string]any), Fleet{}}, {defs["world"].(map[string]any), World{}},
		{defs["area"].(map[string]any), Area{}}, {defs["condition"].(map[string]any), Condition{}},
		{defs["after"].(map[string]any), After{}}, {defs["step"].(map[string]any), Step{}},
		{defs["fault"].(map[string]any), Fault{}}, {defs["assertion"].(map[string]any), Assertion{}},
		{defs["point"].(map[string]any), Point{}}, {defs["operation"].(map[string]any), OperationStep{}},
		{defs["vehicle"].(map[string]any), VehicleEntry{}},
	}
	for _, p := range pairs {
		if got, want := props(p.def), fields(p.typ); !slices.Equal(got, want) {
			t.Errorf("%T: schema has %v, type has %v", p.typ, got, want)
		}
	}
	// Enumerations shared with the code.
	fault := defs["fault"].(map[string]any)["properties"].(map[string]any)
	if got := toStrings(fault["kind"].(map[string]any)["enum"]); !slices.Equal(got, faultKinds) {
		t.Errorf("fault kinds: schema %v, code %v", got, faultKinds)
	}
	as := defs["assertion"].(map[string]any)["properties"].(map[string]any)
	if got := toStrings(as["kind"].(map[string]any)["enum"]); !slices.Equal(got, assertKinds) {
		t.Errorf("assertion kinds: schema %v, code %v", got, assertKinds)
	}
	if got := toStrings(as["field"].(map[string]any)["enum"]); !slices.Equal(got, StateFields) {
		t.Errorf("state fields: schema %v, code %v", got, StateFields)
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}
