package scenario

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Errors is every problem found in a scenario file, each naming
// file:line:column. Validate and Parse return it.
type Errors struct {
	File     string
	Problems []*posError
}

func (e *Errors) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s:%d:%d: %s", e.File, p.Line, p.Column, p.Msg)
	}
	return b.String()
}

func (e *Errors) add(n *yaml.Node, format string, args ...any) {
	line, col := 1, 1
	if n != nil {
		line, col = n.Line, n.Column
	}
	e.Problems = append(e.Problems, &posError{Line: line, Column: col, Msg: fmt.Sprintf(format, args...)})
}

func (e *Errors) addErr(err error) {
	var pe *posError
	if errors.As(err, &pe) {
		e.Problems = append(e.Problems, pe)
		return
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, m := range te.Errors {
			e.Problems = append(e.Problems, yamlLineError(m))
		}
		return
	}
	e.Problems = append(e.Problems, yamlLineError(err.Error()))
}

var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlLineError turns yaml.v3's "line 5: …" messages into a positioned
// error (column 1: yaml.v3 does not say).
func yamlLineError(m string) *posError {
	if g := lineRE.FindStringSubmatch(m); g != nil {
		l, _ := strconv.Atoi(g[1])
		return &posError{Line: l, Column: 1, Msg: g[2]}
	}
	return &posError{Line: 1, Column: 1, Msg: strings.TrimPrefix(m, "yaml: ")}
}

func (e *Errors) orNil() error {
	if len(e.Problems) == 0 {
		return nil
	}
	sort.SliceStable(e.Problems, func(i, j int) bool {
		a, b := e.Problems[i], e.Problems[j]
		return a.Line < b.Line || a.Line == b.Line && a.Column < b.Column
	})
	return e
}

// ParseFile reads, decodes and validates a scenario file.
func ParseFile(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a scenario; file names it in errors and is
// the base for relative area files. The error is an *Errors listing every
// problem with its line, unless the YAML itself cannot be read (then the
// first syntax error).
func Parse(file string, data []byte) (*Scenario, error) {
	errs := &Errors{File: file}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		errs.addErr(err)
		return nil, errs.orNil()
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		errs.add(&doc, "empty file: a scenario needs at least name, duration, fleet and assertions")
		return nil, errs
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		errs.add(root, "a scenario is a mapping (name:, duration:, fleet:, …), got a %s", kindName(root))
		return nil, errs
	}
	checkKeys(root, reflect.TypeOf(Scenario{}), "", errs)
	if len(errs.Problems) > 0 {
		return nil, errs.orNil()
	}
	sc := &Scenario{File: file, root: root}
	if err := root.Decode(sc); err != nil {
		errs.addErr(err)
		return nil, errs.orNil()
	}
	attachNodes(sc, root)
	sc.validate(errs)
	if err := errs.orNil(); err != nil {
		return nil, err
	}
	return sc, nil
}

var unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// checkKeys refuses keys the format does not have, anywhere in the file,
// naming the key's line and the keys allowed there. Free-form values
// (command args, inline GeoJSON, upload items) are not checked.
func checkKeys(n *yaml.Node, t reflect.Type, path string, errs *Errors) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // Decode names the type mismatch
		}
		fields := map[string]reflect.Type{}
		collectFields(t, fields)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				names := make([]string, 0, len(fields))
				for f := range fields {
					names = append(names, f)
				}
				sort.Strings(names)
				errs.add(k, "unknown field %q in %s (want one of %s)", k.Value, where(path), strings.Join(names, ", "))
				continue
			}
			checkKeys(v, ft, join(path, k.Value), errs)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for i, c := range n.Content {
			checkKeys(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), errs)
		}
	}
}

func collectFields(t reflect.Type, out map[string]reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if opts == "inline" {
			collectFields(f.Type, out)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
}

func where(path string) string {
	if path == "" {
		return "the scenario"
	}
	return path
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// mapValue is the value node of key k in mapping n (nil if absent).
func mapValue(n *yaml.Node, k string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == k {
			return n.Content[i+1]
		}
	}
	return nil
}

// at is the node at a key path under n, or the deepest one found, so an
// error points at the field when it is there and at its entry otherwise.
func at(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		c := mapValue(n, k)
		if c == nil {
			return n
		}
		n = c
	}
	return n
}

func attachNodes(sc *Scenario, root *yaml.Node) {
	seq := func(k string) []*yaml.Node {
		if n := mapValue(root, k); n != nil && n.Kind == yaml.SequenceNode {
			return n.Content
		}
		return nil
	}
	for i, n := range seq("steps") {
		sc.Steps[i].node = n
	}
	for i, n := range seq("faults") {
		sc.Faults[i].node = n
	}
	for i, n := range seq("assertions") {
		sc.Assertions[i].node = n
	}
	if w := mapValue(root, "world"); w != nil {
		if a := mapValue(w, "areas"); a != nil && a.Kind == yaml.SequenceNode {
			for i, n := range a.Content {
				sc.World.Areas[i].node = n
			}
		}
	}
}
