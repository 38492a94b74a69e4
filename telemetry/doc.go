// Package telemetry keeps every aircraft's state: it turns the fleet's live
// updates into stored samples, and answers history questions about them.
//
// What lives where:
//
//   - this package: the Sample (one stored row of a vehicle's state, the
//     InfluxDB schema in one type), the sample policy (Recorder: which
//     fleet updates become samples), the line-protocol encoding, and the
//     history logic both stores share (tracks as GeoJSON with a point
//     budget, flights from arm/disarm, CSV/GeoJSON export), so the two
//     stores give identical answers by construction.
//   - spool/: the durable on-disk queue in front of InfluxDB (nothing lost
//     while the server is down; bounded, with a documented drop policy).
//   - influx/: the InfluxDB sink (spool → blocking write API with our own
//     retry) and the Flux history queries.
//   - sqlitestore/: the embedded default store (SQLite, pure Go) used when
//     no InfluxDB is configured, with a retention limit.
//   - tlog/: .tlog reading (with resync past damaged frames), writing,
//     the per-vehicle per-flight recorder, and replay to a UDP socket.
//   - historyapi/: the HTTP routes of the history API.
//   - influxtest/: a test helper that runs a private real influxd.
//
// The schema is documented in README.md beside this file.
package telemetry
