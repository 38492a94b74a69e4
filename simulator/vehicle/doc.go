// Package vehicle is the pure-Go model of one ArduCopter-like multicopter
// and its autopilot, driven by the simulator's MAVLink layer.
//
// It has no sockets, goroutines or wall clock: the owner calls Step with
// simulated time, so a vehicle runs in real time, faster, or stepped by a
// test, and is deterministic for a seed.
package vehicle
