package sqlitestore

import (
	"strings"

	"github.com/burgut-uav/burgut/telemetry"
)

// schemaVersion is the layout this package writes (PRAGMA user_version).
// Version 1 (no user_version) was one wide `samples` row per sample with
// every field, keyed by the vehicle's name; Open migrates it.
const schemaVersion = 2

// column is one value column of a measurement table.
type column struct {
	name, typ string
}

// table is one of the schema's measurements (telemetry/README.md) as a
// table of its own: one row per point, keyed by series and time.
type table struct {
	name string
	part telemetry.Parts
	cols []column
	// args appends the row's values (after series and t) in cols order.
	args func(s *telemetry.Sample, a []any) []any
	// dest returns where to scan the row's values, in cols order.
	dest func(s *telemetry.Sample) []any
	// merge copies the table's fields from src to dst.
	merge func(dst, src *telemetry.Sample)
}

// tables are the schema's measurements in telemetry.Measurements order.
// Narrow rows keep the write cheap: a position is two integers and eight
// doubles (about 90 bytes), not the whole 27-field state.
var tables = []table{
	{name: telemetry.MeasPosition, part: telemetry.PartPosition,
		cols: []column{{"lat", "REAL"}, {"lon", "REAL"}, {"alt_msl", "REAL"}, {"relative_alt", "REAL"},
			{"heading", "REAL"}, {"ground_speed", "REAL"}, {"air_speed", "REAL"}, {"climb", "REAL"}},
		args: func(s *telemetry.Sample, a []any) []any {
			return append(a, s.Lat, s.Lon, s.AltMSL, s.RelativeAlt, s.Heading, s.GroundSpeed, s.AirSpeed, s.Climb)
		},
		dest: func(s *telemetry.Sample) []any {
			return []any{&s.Lat, &s.Lon, &s.AltMSL, &s.RelativeAlt, &s.Heading, &s.GroundSpeed, &s.AirSpeed, &s.Climb}
		},
		merge: func(d, s *telemetry.Sample) {
			d.Lat, d.Lon, d.AltMSL, d.RelativeAlt, d.Heading = s.Lat, s.Lon, s.AltMSL, s.RelativeAlt, s.Heading
			d.GroundSpeed, d.AirSpeed, d.Climb = s.GroundSpeed, s.AirSpeed, s.Climb
		}},
	{name: telemetry.MeasAttitude, part: telemetry.PartAttitude,
		cols:  []column{{"roll", "REAL"}, {"pitch", "REAL"}, {"yaw", "REAL"}},
		args:  func(s *telemetry.Sample, a []any) []any { return append(a, s.Roll, s.Pitch, s.Yaw) },
		dest:  func(s *telemetry.Sample) []any { return []any{&s.Roll, &s.Pitch, &s.Yaw} },
		merge: func(d, s *telemetry.Sample) { d.Roll, d.Pitch, d.Yaw = s.Roll, s.Pitch, s.Yaw }},
	{name: telemetry.MeasPower, part: telemetry.PartPower,
		cols:  []column{{"battery_pct", "REAL"}, {"voltage", "REAL"}, {"current", "REAL"}},
		args:  func(s *telemetry.Sample, a []any) []any { return append(a, s.BatteryPct, s.Voltage, s.Current) },
		dest:  func(s *telemetry.Sample) []any { return []any{&s.BatteryPct, &s.Voltage, &s.Current} },
		merge: func(d, s *telemetry.Sample) { d.BatteryPct, d.Voltage, d.Current = s.BatteryPct, s.Voltage, s.Current }},
	{name: telemetry.MeasStatus, part: telemetry.PartStatus,
		cols: []column{{"mode", "TEXT"}, {"armed", "INTEGER"}, {"gps_fix", "INTEGER"}, {"satellites", "INTEGER"}},
		args: func(s *telemetry.Sample, a []any) []any { return append(a, s.Mode, s.Armed, s.GPSFix, s.Satellites) },
		dest: func(s *telemetry.Sample) []any { return []any{&s.Mode, &s.Armed, &s.GPSFix, &s.Satellites} },
		merge: func(d, s *telemetry.Sample) {
			d.Mode, d.Armed, d.GPSFix, d.Satellites = s.Mode, s.Armed, s.GPSFix, s.Satellites
		}},
	{name: telemetry.MeasLink, part: telemetry.PartLink,
		cols:  []column{{"loss_pct", "REAL"}, {"rate_hz", "REAL"}},
		args:  func(s *telemetry.Sample, a []any) []any { return append(a, s.LossPct, s.RateHz) },
		dest:  func(s *telemetry.Sample) []any { return []any{&s.LossPct, &s.RateHz} },
		merge: func(d, s *telemetry.Sample) { d.LossPct, d.RateHz = s.LossPct, s.RateHz }},
}

// messagesTable holds the message points of telemetry interval 0 (every
// message outside the schema's measurements, e.g. mavlink_vfr_hud).
const messagesTable = "messages"

// schemaDDL creates the layout. Why this shape:
//   - series: the tag sets (vehicle, link, system ID, type, mission, event
//     area), as InfluxDB keeps series; a row carries the series' integer
//     ID instead of six strings, so the tags are written once, not per row.
//   - one WITHOUT ROWID table per measurement, primary key (series, t):
//     a vehicle's track is one clustered range scan, and a re-written
//     point (a replay) is found and not stored twice.
//   - an index on t per table: retention deletes by time and the size cap
//     finds the oldest rows without scanning; it is appended at its right
//     edge, so it costs little to keep.
//   - t is integer nanoseconds (UTC), so a stored time reads back exactly.
//   - a view per measurement with the tags joined in, for an investigator
//     opening the file with the sqlite3 shell.
func schemaDDL() string {
	var b strings.Builder
	b.WriteString(`CREATE TABLE IF NOT EXISTS series (
  id INTEGER PRIMARY KEY,
  vehicle TEXT NOT NULL, link TEXT NOT NULL, system_id INTEGER NOT NULL, type TEXT NOT NULL,
  mission TEXT NOT NULL, event_area TEXT NOT NULL,
  UNIQUE (vehicle, link, system_id, type, mission, event_area)
);
`)
	for _, t := range tables {
		b.WriteString("CREATE TABLE IF NOT EXISTS " + t.name + " (series INTEGER NOT NULL, t INTEGER NOT NULL")
		var cols []string
		for _, c := range t.cols {
			b.WriteString(", " + c.name + " " + c.typ + " NOT NULL")
			cols = append(cols, "m."+c.name)
		}
		b.WriteString(", PRIMARY KEY (series, t)) WITHOUT ROWID;\n")
		b.WriteString("CREATE INDEX IF NOT EXISTS " + t.name + "_by_time ON " + t.name + " (t);\n")
		b.WriteString("CREATE VIEW IF NOT EXISTS " + t.name + "_v AS SELECT s.vehicle, m.t AS time_ns, " +
			"strftime('%Y-%m-%dT%H:%M:%f', m.t / 1e9, 'unixepoch') AS time, " + strings.Join(cols, ", ") +
			", s.link, s.system_id, s.type, s.mission, s.event_area FROM " + t.name + " m JOIN series s ON s.id = m.series;\n")
	}
	b.WriteString(`CREATE TABLE IF NOT EXISTS messages (
  series INTEGER NOT NULL, measurement TEXT NOT NULL, t INTEGER NOT NULL, fields TEXT NOT NULL,
  PRIMARY KEY (series, measurement, t)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_by_time ON messages (t);
CREATE VIEW IF NOT EXISTS messages_v AS SELECT s.vehicle, m.measurement, m.t AS time_ns,
  strftime('%Y-%m-%dT%H:%M:%f', m.t / 1e9, 'unixepoch') AS time, m.fields,
  s.link, s.system_id, s.type, s.mission, s.event_area FROM messages m JOIN series s ON s.id = m.series;
`)
	return b.String()
}

// insertSQL inserts a row into table i (len(tables) = messages): series,
// t and the values, in the order the writer binds them. A row already
// stored (same key) is left as it is and counted as a duplicate.
func insertSQL(i int) string {
	name, names := messagesTable, []string{"series", "measurement", "t", "fields"}
	if i < len(tables) {
		name, names = tables[i].name, []string{"series", "t"}
		for _, c := range tables[i].cols {
			names = append(names, c.name)
		}
	}
	return "INSERT INTO " + name + " (" + strings.Join(names, ", ") + ") VALUES (" +
		strings.TrimSuffix(strings.Repeat("?,", len(names)), ",") + ") ON CONFLICT DO NOTHING"
}

// tableName names table i (len(tables) = messages).
func tableName(i int) string {
	if i < len(tables) {
		return tables[i].name
	}
	return messagesTable
}

// selectCols is the value column list of t, prefixed by alias.
func selectCols(t *table, alias string) string {
	var out []string
	for _, c := range t.cols {
		out = append(out, alias+c.name)
	}
	return strings.Join(out, ", ")
}

// allTables names every data table (the measurements and messages).
func allTables() []string {
	out := make([]string, 0, len(tables)+1)
	for _, t := range tables {
		out = append(out, t.name)
	}
	return append(out, messagesTable)
}
