// Package simulator runs a fleet of simulated ArduCopter-like vehicles that
// speak real MAVLink 2 over their own UDP sockets (and optionally TCP), so a
// ground station, pymavlink, MAVProxy or QGroundControl can fly them as if
// they were ArduCopter SITL instances.
//
// The flight model and autopilot (physics, modes, missions, fence,
// failsafes, parameters) live in simulator/vehicle; this package wraps each
// model in a MAVLink endpoint:
//
//   - config.go: Config, its validation, the split of vehicles over ground
//     station addresses and where each vehicle's home is.
//   - sim.go: Sim, the runner: sockets, sharded scheduler goroutines that step
//     the models and emit telemetry.
//   - simvehicle.go: SimVehicle, one vehicle's endpoint (locking, framing,
//     sequence numbers, the public test API).
//   - link.go: link fault injection (loss, latency, jitter, duplication,
//     reordering, link down) in both directions.
//   - streams.go: telemetry messages and their rates (REQUEST_DATA_STREAM,
//     MAV_CMD_SET_MESSAGE_INTERVAL).
//   - commands.go, mission.go, params.go, camera.go: the command, mission,
//     parameter and camera protocols answered the way ArduCopter 4.7 answers.
//   - tcp.go: the per-vehicle TCP server (ArduPilot's 5760+10·i).
//
// Tests play the ground station with a gomavlib Node over real loopback UDP.
package simulator
