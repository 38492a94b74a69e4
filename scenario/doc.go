// Package scenario reads, validates and runs flight scenarios: a YAML file
// that describes a fleet, a world, operator steps, faults on a timeline and
// assertions (format in scenarios/README.md, JSON Schema in
// scenarios/schema.json), and `burgut scenario run|validate`.
//
// The runner drives the station only through the HTTP API an operator
// uses (areas, plans, assign, commands, parameters, uploads) and observes
// it through the same API (vehicles, events, stored telemetry), so a
// scenario flies the same against the in-process station and simulated
// fleet as against a station given by URL. Faults reach the simulated
// vehicles through the simulator's Go API (simulator.SimVehicle), which is
// why model and link faults need the in-process fleet.
//
// Times in a scenario are simulated time from the moment the whole fleet
// is ready (connected, 3D fix, home set). The ground station's own
// timeouts (link lost, command retries) run on wall time, so at speedup X
// they take X times longer in simulated time: pick the speedup with that
// in mind when asserting on alert delays.
package scenario
