package missions

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/burgut-uav/burgut/internal/mavitem"
	"io"
	"math"
	"strconv"
	"strings"
)

// isGlobalFrame tells whether an item's x/y are lat/lon (×1e7 on the wire).
func isGlobalFrame(f uint8) bool {
	switch f {
	case 0, 3, 5, 6, 10, 11: // GLOBAL, GLOBAL_RELATIVE_ALT, *_INT, GLOBAL_TERRAIN_ALT(_INT)
		return true
	}
	return false
}

func xParam(it mavitem.Item) float64 {
	if isGlobalFrame(it.Frame) {
		return float64(it.X) / 1e7
	}
	return float64(it.X)
}

func yParam(it mavitem.Item) float64 {
	if isGlobalFrame(it.Frame) {
		return float64(it.Y) / 1e7
	}
	return float64(it.Y)
}

func setXY(it *mavitem.Item, x, y float64) error {
	if isGlobalFrame(it.Frame) {
		if math.IsNaN(x) || math.IsNaN(y) {
			x, y = 0, 0
		}
		if x < -90 || x > 90 || y < -180 || y > 180 {
			return fmt.Errorf("latitude %g / longitude %g out of range", x, y)
		}
		it.X, it.Y = e7(x), e7(y)
		return nil
	}
	if math.IsNaN(x) || math.IsNaN(y) || math.Abs(x) > math.MaxInt32 || math.Abs(y) > math.MaxInt32 {
		return fmt.Errorf("x %g / y %g out of range", x, y)
	}
	it.X, it.Y = int32(math.Round(x)), int32(math.Round(y))
	return nil
}

// ---- QGroundControl .plan ----

type qgcFile struct {
	FileType      string      `json:"fileType"`
	GroundStation string      `json:"groundStation"`
	Version       int         `json:"version"`
	Mission       qgcMission  `json:"mission"`
	GeoFence      qgcGeoFence `json:"geoFence"`
	RallyPoints   qgcRally    `json:"rallyPoints"`
}

type qgcMission struct {
	CruiseSpeed            float64           `json:"cruiseSpeed"`
	FirmwareType           int               `json:"firmwareType"`
	GlobalPlanAltitudeMode int               `json:"globalPlanAltitudeMode"`
	HoverSpeed             float64           `json:"hoverSpeed"`
	Items                  []json.RawMessage `json:"items"`
	PlannedHomePosition    []float64         `json:"plannedHomePosition"`
	VehicleType            int               `json:"vehicleType"`
	Version                int               `json:"version"`
}

type qgcItem struct {
	AMSLAltAboveTerrain *float64   `json:"AMSLAltAboveTerrain"`
	Altitude            float64    `json:"Altitude"`
	AltitudeMode        int        `json:"AltitudeMode"`
	AutoContinue        bool       `json:"autoContinue"`
	Command             int        `json:"command"`
	DoJumpID            int        `json:"doJumpId"`
	Frame               int        `json:"frame"`
	Params              []*float64 `json:"params"`
	Type                string     `json:"type"`
	ComplexItemType     string     `json:"complexItemType,omitempty"`
}

type qgcGeoFence struct {
	Circles  []qgcCircle  `json:"circles"`
	Polygons []qgcPolygon `json:"polygons"`
	Version  int          `json:"version"`
}

type qgcCircle struct {
	Circle struct {
		Center []float64 `json:"center"`
		Radius float64   `json:"radius"`
	} `json:"circle"`
	Inclusion bool `json:"inclusion"`
	Version   int  `json:"version"`
}

type qgcPolygon struct {
	Inclusion bool        `json:"inclusion"`
	Polygon   [][]float64 `json:"polygon"`
	Version   int         `json:"version"`
}

type qgcRally struct {
	Points  [][]float64 `json:"points"`
	Version int         `json:"version"`
}

func fptr(f float32) *float64 {
	if math.IsNaN(float64(f)) {
		return nil // QGC writes NaN (e.g. "keep yaw") as null
	}
	v := float64(f)
	return &v
}

// WritePlan writes the plan as a QGroundControl .plan file: mission as
// simple items, fence in geoFence, rally points in rallyPoints and the
// home in plannedHomePosition.
func (p *Plan) WritePlan(w io.Writer) error {
	f := qgcFile{FileType: "Plan", GroundStation: "Burgut", Version: 1}
	f.Mission = qgcMission{CruiseSpeed: p.CruiseSpeed, HoverSpeed: p.HoverSpeed, FirmwareType: 3, GlobalPlanAltitudeMode: 1,
		VehicleType: 2, Version: 2, PlannedHomePosition: []float64{p.Home.Lat, p.Home.Lon, p.Home.Alt}, Items: []json.RawMessage{}}
	for i, it := range p.Mission {
		q := qgcItem{Type: "SimpleItem", Command: int(it.Command), Frame: int(it.Frame), AutoContinue: it.Autocontinue != 0,
			DoJumpID: i + 1, Altitude: float64(it.Z), AltitudeMode: 1}
		z := float64(it.Z)
		x, y := xParam(it), yParam(it)
		q.Params = []*float64{fptr(it.Param1), fptr(it.Param2), fptr(it.Param3), fptr(it.Param4), &x, &y, &z}
		raw, err := json.Marshal(q)
		if err != nil {
			return fmt.Errorf("write plan: mission item %d: %w", i, err)
		}
		f.Mission.Items = append(f.Mission.Items, raw)
	}
	f.GeoFence = qgcGeoFence{Version: 2, Circles: []qgcCircle{}, Polygons: []qgcPolygon{}}
	for i := 0; i < len(p.Fence); {
		it := p.Fence[i]
		switch it.Command {
		case mavitem.CmdFencePolyInclusion, mavitem.CmdFencePolyExclusion:
			n := int(it.Param1)
			if n < 3 || i+n > len(p.Fence) {
				return fmt.Errorf("write plan: fence item %d: polygon of %d vertices does not fit", i, n)
			}
			pg := qgcPolygon{Inclusion: it.Command == mavitem.CmdFencePolyInclusion, Version: 1}
			for k := 0; k < n; k++ {
				v := p.Fence[i+k]
				pg.Polygon = append(pg.Polygon, []float64{float64(v.X) / 1e7, float64(v.Y) / 1e7})
			}
			f.GeoFence.Polygons = append(f.GeoFence.Polygons, pg)
			i += n
		case mavitem.CmdFenceCircleInclusion, mavitem.CmdFenceCircleExclusion:
			c := qgcCircle{Inclusion: it.Command == mavitem.CmdFenceCircleInclusion, Version: 1}
			c.Circle.Center = []float64{float64(it.X) / 1e7, float64(it.Y) / 1e7}
			c.Circle.Radius = float64(it.Param1)
			f.GeoFence.Circles = append(f.GeoFence.Circles, c)
			i++
		default:
			return fmt.Errorf("write plan: fence item %d: command %d is not a fence command", i, it.Command)
		}
	}
	f.RallyPoints = qgcRally{Version: 2, Points: [][]float64{}}
	for _, r := range p.Rally {
		f.RallyPoints.Points = append(f.RallyPoints.Points, []float64{float64(r.X) / 1e7, float64(r.Y) / 1e7, float64(r.Z)})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "    ")
	if err := enc.Encode(f); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	return nil
}

// ParsePlan reads a QGroundControl .plan file. Complex items (surveys,
// corridor scans) are refused with the item's index: convert them to
// simple items in QGC first. Errors name the JSON path at fault.
func ParsePlan(r io.Reader) (*Plan, error) {
	var f qgcFile
	dec := json.NewDecoder(io.LimitReader(r, maxImportBytes))
	if err := dec.Decode(&f); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return nil, fmt.Errorf("parse plan: malformed JSON at byte %d: %w", syn.Offset, err)
		case errors.As(err, &typ):
			return nil, fmt.Errorf("parse plan: %s: got JSON %s, want %s", typ.Field, typ.Value, typ.Type)
		}
		return nil, fmt.Errorf("parse plan: %w", err)
	}
	if f.FileType != "Plan" {
		return nil, fmt.Errorf("parse plan: fileType is %q, want \"Plan\"", f.FileType)
	}
	p := &Plan{CruiseSpeed: f.Mission.CruiseSpeed, HoverSpeed: f.Mission.HoverSpeed}
	if h := f.Mission.PlannedHomePosition; len(h) != 0 {
		if len(h) != 3 || h[0] < -90 || h[0] > 90 || h[1] < -180 || h[1] > 180 {
			return nil, fmt.Errorf("parse plan: mission.plannedHomePosition %v: want [lat, lon, alt] in range", h)
		}
		p.Home = Home{Lat: h[0], Lon: h[1], Alt: h[2]}
	}
	for i, raw := range f.Mission.Items {
		var q qgcItem
		if err := json.Unmarshal(raw, &q); err != nil {
			return nil, fmt.Errorf("parse plan: mission.items[%d]: %w", i, err)
		}
		if q.Type != "SimpleItem" {
			return nil, fmt.Errorf("parse plan: mission.items[%d]: type %q (%s) not supported: convert complex items to simple items in QGroundControl first", i, q.Type, q.ComplexItemType)
		}
		if len(q.Params) != 7 {
			return nil, fmt.Errorf("parse plan: mission.items[%d].params has %d values, want 7", i, len(q.Params))
		}
		if q.Command < 0 || q.Command > math.MaxUint16 || q.Frame < 0 || q.Frame > math.MaxUint8 {
			return nil, fmt.Errorf("parse plan: mission.items[%d]: command %d / frame %d out of range", i, q.Command, q.Frame)
		}
		vals := make([]float64, 7)
		for k, v := range q.Params {
			vals[k] = math.NaN()
			if v != nil {
				vals[k] = *v
			}
		}
		it := mavitem.Item{Seq: uint16(i + 1), Frame: uint8(q.Frame), Command: uint16(q.Command), MissionType: mavitem.TypeMission,
			Param1: float32(vals[0]), Param2: float32(vals[1]), Param3: float32(vals[2]), Param4: float32(vals[3]), Z: float32(vals[6])}
		if q.AutoContinue {
			it.Autocontinue = 1
		}
		if math.IsNaN(vals[6]) {
			it.Z = float32(q.Altitude)
		}
		if err := setXY(&it, vals[4], vals[5]); err != nil {
			return nil, fmt.Errorf("parse plan: mission.items[%d]: %w", i, err)
		}
		p.Mission = append(p.Mission, it)
	}
	for i, pg := range f.GeoFence.Polygons {
		if len(pg.Polygon) < 3 {
			return nil, fmt.Errorf("parse plan: geoFence.polygons[%d] has %d vertices, want at least 3", i, len(pg.Polygon))
		}
		cmd := mavitem.CmdFencePolyExclusion
		if pg.Inclusion {
			cmd = mavitem.CmdFencePolyInclusion
		}
		for k, v := range pg.Polygon {
			if len(v) != 2 || v[0] < -90 || v[0] > 90 || v[1] < -180 || v[1] > 180 {
				return nil, fmt.Errorf("parse plan: geoFence.polygons[%d].polygon[%d] = %v: want [lat, lon] in range", i, k, v)
			}
			p.Fence = append(p.Fence, mavitem.Item{Frame: mavitem.FrameGlobal, Command: cmd, Param1: float32(len(pg.Polygon)), X: e7(v[0]), Y: e7(v[1]), Autocontinue: 1, MissionType: mavitem.TypeFence})
		}
	}
	for i, c := range f.GeoFence.Circles {
		v := c.Circle.Center
		if len(v) != 2 || v[0] < -90 || v[0] > 90 || v[1] < -180 || v[1] > 180 || !(c.Circle.Radius > 0) {
			return nil, fmt.Errorf("parse plan: geoFence.circles[%d]: center %v radius %g: want [lat, lon] in range and a positive radius", i, v, c.Circle.Radius)
		}
		cmd := mavitem.CmdFenceCircleExclusion
		if c.Inclusion {
			cmd = mavitem.CmdFenceCircleInclusion
		}
		p.Fence = append(p.Fence, mavitem.Item{Frame: mavitem.FrameGlobal, Command: cmd, Param1: float32(c.Circle.Radius), X: e7(v[0]), Y: e7(v[1]), Autocontinue: 1, MissionType: mavitem.TypeFence})
	}
	for i := range p.Fence {
		p.Fence[i].Seq = uint16(i)
	}
	for i, v := range f.RallyPoints.Points {
		if len(v) != 3 || v[0] < -90 || v[0] > 90 || v[1] < -180 || v[1] > 180 {
			return nil, fmt.Errorf("parse plan: rallyPoints.points[%d] = %v: want [lat, lon, alt] in range", i, v)
		}
		p.Rally = append(p.Rally, mavitem.Item{Seq: uint16(i), Frame: mavitem.FrameGlobalRelativeAlt, Command: mavitem.CmdNavRallyPoint, X: e7(v[0]), Y: e7(v[1]), Z: float32(v[2]), Autocontinue: 1, MissionType: mavitem.TypeRally})
	}
	return p, nil
}

// ---- Mission Planner .waypoints (QGC WPL 110) ----

const wplHeader = "QGC WPL 110"

func fmtF32(f float32) string { return strconv.FormatFloat(float64(f), 'g', -1, 32) }

// WriteWaypoints writes the mission as a QGC WPL 110 text file, the format
// Mission Planner reads and writes; line 0 is home. Fence and rally points
// are not part of this format.
func (p *Plan) WriteWaypoints(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, wplHeader)
	for _, it := range p.MissionWithHome() {
		x, y := strconv.FormatFloat(xParam(it), 'f', 7, 64), strconv.FormatFloat(yParam(it), 'f', 7, 64)
		if !isGlobalFrame(it.Frame) {
			x, y = strconv.Itoa(int(it.X)), strconv.Itoa(int(it.Y))
		}
		fmt.Fprintf(bw, "%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", it.Seq, it.Current, it.Frame, it.Command,
			fmtF32(it.Param1), fmtF32(it.Param2), fmtF32(it.Param3), fmtF32(it.Param4), x, y, fmtF32(it.Z), it.Autocontinue)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write waypoints: %w", err)
	}
	return nil
}

// ParseWaypoints reads a QGC WPL 110 file; line 0 becomes the home. Errors
// name the line and the column.
func ParseWaypoints(r io.Reader) (*Plan, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxImportBytes))
	line := 0
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("parse waypoints: %w", err)
		}
		return nil, errors.New("parse waypoints: empty file, want header \"QGC WPL 110\"")
	}
	line++
	if h := strings.TrimSpace(sc.Text()); h != wplHeader {
		return nil, fmt.Errorf("parse waypoints: line 1: header %q, want %q", h, wplHeader)
	}
	p := &Plan{}
	cols := []string{"index", "current", "frame", "command", "param1", "param2", "param3", "param4", "x/lat", "y/lon", "z/alt", "autocontinue"}
	haveHome := false
	for sc.Scan() {
		line++
		txt := strings.TrimSpace(sc.Text())
		if txt == "" {
			continue
		}
		fs := strings.Fields(txt)
		if len(fs) != 12 {
			return nil, fmt.Errorf("parse waypoints: line %d: %d columns, want 12", line, len(fs))
		}
		var v [12]float64
		for k, s := range fs {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("parse waypoints: line %d column %d (%s): %q is not a number", line, k+1, cols[k], s)
			}
			v[k] = f
		}
		idx := int(v[0])
		want := len(p.Mission) + 1
		if !haveHome {
			want = 0
		}
		if float64(idx) != v[0] || idx != want {
			return nil, fmt.Errorf("parse waypoints: line %d column 1 (index): %s, want %d", line, fs[0], want)
		}
		for k, lim := range map[int]float64{1: 1, 2: math.MaxUint8, 3: math.MaxUint16, 11: 1} {
			if v[k] < 0 || v[k] > lim || v[k] != math.Trunc(v[k]) {
				return nil, fmt.Errorf("parse waypoints: line %d column %d (%s): %s out of range", line, k+1, cols[k], fs[k])
			}
		}
		it := mavitem.Item{Seq: uint16(idx), Current: uint8(v[1]), Frame: uint8(v[2]), Command: uint16(v[3]),
			Param1: float32(v[4]), Param2: float32(v[5]), Param3: float32(v[6]), Param4: float32(v[7]), Z: float32(v[10]),
			Autocontinue: uint8(v[11]), MissionType: mavitem.TypeMission}
		if err := setXY(&it, v[8], v[9]); err != nil {
			return nil, fmt.Errorf("parse waypoints: line %d: %w", line, err)
		}
		if !haveHome {
			p.Home = Home{Lat: v[8], Lon: v[9], Alt: v[10]}
			haveHome = true
			continue
		}
		p.Mission = append(p.Mission, it)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("parse waypoints: line %d: %w", line+1, err)
	}
	if !haveHome {
		return nil, errors.New("parse waypoints: no items; line 0 (home) is required")
	}
	return p, nil
}
