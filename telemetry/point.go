package telemetry

import (
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/bluenviron/gomavlib/v3/pkg/message"

	"github.com/burgut-uav/burgut/internal/fastfloat"
)

// MessagePrefix starts the measurement of every MAVLink message stored one
// point per message (telemetry interval 0): "mavlink_" + the message name
// in snake case, e.g. mavlink_attitude, mavlink_vfr_hud. The prefix keeps
// them apart from the schema's own measurements (attitude is both a
// message and a measurement of the sampled schema).
const MessagePrefix = "mavlink_"

// Point is one MAVLink message of a vehicle stored as it arrived, as
// Telegraf's inputs.mavlink stores messages: every scalar field of the
// message, under the schema's tags.
type Point struct {
	Time        time.Time
	Measurement string
	Tags        Tags
	Fields      []Field
}

// Tags are the schema's tags (README.md), shared by samples and points.
type Tags struct {
	Vehicle   string
	Link      string
	SystemID  uint8
	Type      string
	Mission   string
	EventArea string
	// Operation and Slot tag the coverage points of patrol operations
	// (missions/operations); samples leave them empty.
	Operation string
	Slot      string
}

// Field is one field of a Point: a float, an integer or a string.
type Field struct {
	Name  string
	Kind  FieldKind
	Float float64
	Int   int64
	Str   string
}

// FieldKind says which value of a Field is set.
type FieldKind uint8

// Field kinds.
const (
	FieldFloat FieldKind = iota
	FieldInt
	FieldString
)

// MessageMeasurement is the measurement a message's points are stored in.
func MessageMeasurement(m message.Message) string {
	return messageLayout(reflect.TypeOf(m)).measurement
}

// AppendMessageFields appends the message's scalar fields (arrays as
// name_0, name_1, …; char arrays as strings) to fs.
func AppendMessageFields(fs []Field, m message.Message) []Field {
	v := reflect.ValueOf(m)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return fs
	}
	lay := messageLayout(v.Type())
	v = v.Elem()
	fs = slices.Grow(fs, lay.nfields) // one allocation, not a doubling per field
	for _, f := range lay.fields {
		fv := v.Field(f.index)
		if f.array {
			for i := 0; i < fv.Len(); i++ {
				fs = appendValue(fs, f.names[i], fv.Index(i))
			}
			continue
		}
		fs = appendValue(fs, f.names[0], fv)
	}
	return fs
}

func appendValue(fs []Field, name string, v reflect.Value) []Field {
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		return append(fs, Field{Name: name, Kind: FieldFloat, Float: v.Float()})
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Int:
		return append(fs, Field{Name: name, Kind: FieldInt, Int: v.Int()})
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uint:
		u := v.Uint()
		if u > math.MaxInt64 {
			return append(fs, Field{Name: name, Kind: FieldFloat, Float: float64(u)})
		}
		return append(fs, Field{Name: name, Kind: FieldInt, Int: int64(u)})
	case reflect.String:
		return append(fs, Field{Name: name, Kind: FieldString, Str: v.String()})
	}
	return fs
}

type layoutField struct {
	index int
	array bool
	names []string
}

type layout struct {
	measurement string
	fields      []layoutField
	nfields     int // Fields a message of this type becomes
}

var layouts sync.Map // reflect.Type → *layout

// messageLayout is computed once per message type: reflection walks the
// struct once, not per message.
func messageLayout(t reflect.Type) *layout {
	if l, ok := layouts.Load(t); ok {
		return l.(*layout)
	}
	l := &layout{}
	st := t
	if st.Kind() == reflect.Pointer {
		st = st.Elem()
	}
	l.measurement = MessagePrefix + snake(strings.TrimPrefix(st.Name(), "Message"))
	if st.Kind() == reflect.Struct {
		for i := 0; i < st.NumField(); i++ {
			sf := st.Field(i)
			if !sf.IsExported() {
				continue
			}
			name := sf.Tag.Get("mavname")
			if name == "" {
				name = snake(sf.Name)
			}
			lf := layoutField{index: i}
			if sf.Type.Kind() == reflect.Array {
				lf.array = true
				for j := 0; j < sf.Type.Len(); j++ {
					lf.names = append(lf.names, name+"_"+strconv.Itoa(j))
				}
			} else {
				lf.names = []string{name}
			}
			l.fields = append(l.fields, lf)
			l.nfields += len(lf.names)
		}
	}
	layouts.Store(t, l)
	return l
}

// snake turns a Go name (VfrHud, GpsRawInt, Ahrs2) into MAVLink's
// lower-case form (vfr_hud, gps_raw_int, ahrs2), as gomavlib maps them.
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// AppendLine appends the point as one line of InfluxDB line protocol.
func (p *Point) AppendLine(b []byte) []byte {
	b = append(b, p.Measurement...)
	b = p.Tags.appendTo(b)
	b = append(b, ' ')
	n := 0
	for _, f := range p.Fields {
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = appendEscaped(b, f.Name, ", =")
		b = append(b, '=')
		switch f.Kind {
		case FieldFloat:
			v := f.Float
			if math.IsNaN(v) || math.IsInf(v, 0) {
				v = 0
			}
			b = fastfloat.AppendG(b, v)
		case FieldInt:
			b = strconv.AppendInt(b, f.Int, 10)
			b = append(b, 'i')
		case FieldString:
			b = append(b, '"')
			b = appendEscaped(b, f.Str, `"\`)
			b = append(b, '"')
		}
	}
	if n == 0 {
		b = append(b, `present=true`...) // line protocol needs a field
	}
	b = append(b, ' ')
	b = strconv.AppendInt(b, p.Time.UnixNano(), 10)
	return append(b, '\n')
}
