// Package groundstation is Burgut's MAVLink ground station: it opens the
// links, discovers vehicles, keeps their protocol sessions, turns every
// frame into fleet state and events, and offers the operations the HTTP
// API and the planner call (commands, modes, verified mission upload,
// group operations).
//
// # Structure
//
//   - links.go: link specs ([NAME=]udp|udpc|tcp|tcps|serial:…) and names.
//   - station.go: Station, Config, Run. Each link gets its own gomavlib
//     Node (station HEARTBEAT at 1 Hz, MAV_TYPE_GCS, MAVLink 2) and one
//     dispatcher goroutine that reads that node's Events() and ticks.
//   - udplistener.go, ingest.go, framedec.go: a UDP server link has its
//     own socket reader, which stages each datagram (recvmmsg; a busy
//     socket is read every Config.UDPBatchWait, 2 ms, instead of waking
//     the process per datagram); the link's dispatcher
//     takes them in batches and decodes them with the station's frame
//     decoder (held to gomavlib's frame reader by a test), with no
//     goroutine hop per frame; gomavlib gets a conn per remote only to
//     open the Channel the station writes to that vehicle through.
//   - sendgate.go, streamgate.go: every frame to a vehicle passes a send
//     gate per connection (a UDP remote, a TCP connection, a serial port):
//     the station owns each conn gomavlib writes to, counts frames handed
//     to gomavlib against frames its writer took, and holds the sender (or
//     sheds, counted) instead of letting gomavlib's 64-frame queue drop
//     silently. TCP, UDP client and serial links therefore use gomavlib's
//     custom endpoints over connections the station opens.
//   - dispatch.go: the dispatcher. Per frame it finds the vehicle, accounts
//     the sequence number (loss, duplicates), hands the message to the
//     vehicle's session (session.Vehicle.Handle never blocks) and maps it
//     into the fleet (fleet.Update is in-memory and never blocks). A
//     ticker marks vehicles link_lost after HeartbeatTimeout without a
//     HEARTBEAT, judged against the last moment the link had nothing
//     waiting (a UDP server link's socket and staging; on the stream
//     links the kernel's queue and frames a reader read but has not
//     handed on: streamread.go) and from the later of the last HEARTBEAT
//     and the last datagram the station dropped that may have held one:
//     a station that is late or shedding puts the decision off (counted),
//     at most LinkLostMaxDefer, so its lateness is not read as silence.
//     The next HEARTBEAT brings link_regained.
//   - setup.go: per-vehicle setup work in Station-owned goroutines,
//     bounded by SetupConcurrency: AUTOPILOT_VERSION (identity), stream
//     rates (MAV_CMD_SET_MESSAGE_INTERVAL, REQUEST_DATA_STREAM as the
//     ArduPilot fallback) on discovery, after link_regained and after a
//     detected reboot, and camera discovery (CAMERA_INFORMATION,
//     VIDEO_STREAM_INFORMATION) when a camera component appears.
//   - seq.go: MAVLink sequence-gap accounting and the sliding window of
//     rate and loss; modes.go: flight-mode names; ops.go: verified upload,
//     download and Group; identity.go: the UID → ID registry.
//
// # Vehicle identity
//
// A vehicle is an autopilot component (HEARTBEAT with a real autopilot and
// a vehicle MAV_TYPE) heard on a link: (link, system ID, component ID).
// The same system ID on two links is two vehicles. Cameras and other
// components of the same system on the same link attach to it.
//
// A newly heard vehicle waits up to IdentityWait for its AUTOPILOT_VERSION
// before it is published to the fleet. Its ID is then:
//   - the ID its UID had before, if this UID was seen before (on any link,
//     in this run or an earlier one: the map is saved in IdentityFile) —
//     so an aircraft keeps its ID across links and restarts;
//   - otherwise, for a new UID, "uav-" and the UID as 16 hex digits, e.g.
//     "uav-0041002a3334510c": named after the aircraft, not the radio it
//     was first heard on, so it is the same on any link even without the
//     identity file;
//   - for a vehicle that did not tell its UID in time (or has none),
//     "<link>-<sysid>" (plus "-<compid>" when the autopilot is not
//     component 1), e.g. "udp14550-7". A UID learned later keeps that ID.
//
// IDs are URL-safe and never change while the station runs.
//
// # Link quality
//
// Per component, MAVLink sequence numbers are tracked in a 256-entry
// bitmap: gaps count as lost, a late packet filling a gap takes the loss
// back, a packet seen before is a duplicate (counted, not processed
// again, so a duplicated MISSION_ITEM_REACHED is one event). Rate and loss
// percentage are over the last five seconds.
package groundstation
