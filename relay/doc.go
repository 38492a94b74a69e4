// Package relay carries Burgut's live fleet state to the monitoring center:
// its video wall, its dispatch consoles and its other systems.
//
// Three parts live here, each fed from a fleet.Subscription so none can
// stall the ground station's ingest:
//
//   - Publisher (mqtt.go) publishes every vehicle's state (QoS 0, retained,
//     at a configurable rate), its events (QoS 1, durable across broker
//     outages through paho's file store and a persistent session), its video
//     links (QoS 1, retained) and the station's presence (retained, with a
//     last will) under the topic scheme of topics.go.
//   - Broker (broker.go) is the embedded MQTT broker (mochi-mqtt) Burgut runs
//     when no external broker is configured: TCP plus MQTT-over-WebSocket,
//     read-only for everyone but Burgut's own publisher.
//   - Hub (ws.go) serves /api/v1/stream: a snapshot on connect, then state
//     updates and events, with per-client filters (vehicle ids, bounding box,
//     rate) and a bounded, coalescing queue per connection so a slow client
//     loses old positions, never stalls the others, and is dropped past a
//     limit.
//
// The JSON payloads carry "schema": SchemaVersion; consumers should check it.
package relay
