// Package loadgen is the fleet-scale MAVLink load generator behind
// `burgut loadgen`: N vehicles without physics, each with its own UDP
// socket, sending 18 MAVLink 2 messages per second (GLOBAL_POSITION_INT at
// 10 Hz, ATTITUDE and VFR_HUD at 2 Hz, HEARTBEAT, SYS_STATUS,
// BATTERY_STATUS and GPS_RAW_INT at 1 Hz) to one or more ground-station
// links, at most 250 vehicles per link.
//
// It exists because measuring the ground station with the full simulator
// measures the simulator too: here the sender's cost is a few syscalls per
// message, sends are paced with absolute deadlines (a late wake-up catches
// up instead of drifting), and every message the kernel accepted is counted
// per type, so a receiver's counts can be compared exactly.
//
// Sends are spread evenly: vehicle i of N starts its 100 ms cycle at
// i/N × 100 ms, so the fleet's load is flat rather than bursty. A vehicle's
// first frame is its HEARTBEAT (a station only attaches frames to vehicles
// it has heard a heartbeat from).
//
// The vehicles answer the little a ground station needs to register them
// as ArduCopters: a COMMAND_ACK (accepted) for every COMMAND_LONG addressed
// to them and, for MAV_CMD_REQUEST_MESSAGE(AUTOPILOT_VERSION), an
// AUTOPILOT_VERSION with a unique UID. Everything else received (station
// heartbeats, stream requests) is read and discarded so the sockets never
// fill. Receiving costs one epoll_wait per wake-up, not a goroutine per
// vehicle.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/burgut-uav/burgut/internal/linkspec"
	simvehicle "github.com/burgut-uav/burgut/simulator/vehicle"
)

// MaxPerTarget is the most vehicles one MAVLink network (one link) holds
// (linkspec.MaxVehiclesPerLink).
const MaxPerTarget = linkspec.MaxVehiclesPerLink

// Cycle is the period of the fastest message (GLOBAL_POSITION_INT, 10 Hz);
// every vehicle sends one slot of messages per cycle.
const Cycle = 100 * time.Millisecond

// MessagesPerSecond is what one vehicle sends per second.
const MessagesPerSecond = 18

// Config configures a run. Vehicles and Targets are required.
type Config struct {
	// Vehicles is the number of simulated vehicles.
	Vehicles int
	// Targets are ground-station links, "udp:HOST:PORT" (the station's UDP
	// server). Vehicles are split over them evenly, system IDs from 1.
	Targets []string
	// PerTarget caps the vehicles per target (default and maximum 250).
	PerTarget int
	// Duration ends the run after this long (0 = until ctx is cancelled).
	// Each vehicle sends exactly the slots whose deadline is before it, so
	// a whole number of seconds gives exactly 18 × seconds messages per
	// vehicle (plus answers).
	Duration time.Duration
	// Workers is the number of sending goroutines (default GOMAXPROCS,
	// at most one per 50 vehicles).
	Workers int
	// Bind is the local address the vehicles' sockets bind (default
	// 127.0.0.1).
	Bind string
	// Center is the fleet's centre (default vehicle.DefaultHome, the
	// simulator's).
	CenterLat, CenterLon float64
	// Probe, if set, is called after every GLOBAL_POSITION_INT of vehicle
	// 0 with the cycle number (also sent as its relative altitude in mm)
	// and the time just before it was handed to the kernel (an upper
	// bound on the latency that follows): latency probes match it
	// against what a client receives.
	Probe func(cycle int64, sent time.Time)
	// RunID goes into every vehicle's autopilot UID (with its target and
	// system ID), so two generators feeding one station — or a station
	// that remembers earlier runs — never see the same aircraft twice
	// (a ground station follows a UID across links). Its low 24 bits are
	// used; 0 = random.
	RunID uint32
	// Log receives start/stop and error summaries (default slog.Default()).
	Log *slog.Logger
}

// Result is what a run sent, counted per message type.
type Result struct {
	Vehicles int            `json:"vehicles"`
	Targets  []TargetResult `json:"targets"`
	// Sent counts frames the kernel accepted, per message name, including
	// answers (COMMAND_ACK, AUTOPILOT_VERSION).
	Sent      map[string]uint64 `json:"sent"`
	SentTotal uint64            `json:"sent_total"`
	// SendErrors counts frames the kernel refused (e.g. ECONNREFUSED when
	// nothing listens); they are not in Sent.
	SendErrors uint64 `json:"send_errors"`
	// Received counts datagrams read from the station; Commands the
	// COMMAND_LONGs among them addressed to a vehicle.
	Received uint64 `json:"received"`
	Commands uint64 `json:"commands"`
	// DurationS is the wall time from the first deadline to the end.
	DurationS float64 `json:"duration_s"`
	// CPUPercent is this process's CPU (user+system, getrusage) over the
	// run in % of one core; CPUUserS/CPUSysS split it.
	CPUPercent float64 `json:"cpu_percent"`
	CPUUserS   float64 `json:"cpu_user_s"`
	CPUSysS    float64 `json:"cpu_sys_s"`
	// MaxLagMS is the largest delay of a slot behind its deadline; LateSlots
	// counts slots sent more than 10 ms late (the machine could not keep up).
	MaxLagMS  float64 `json:"max_lag_ms"`
	LateSlots uint64  `json:"late_slots"`
	// PerVehicle is the GLOBAL_POSITION_INT count of each vehicle, in
	// vehicle order (vehicle i is system ID i%PerTarget+1 on its target).
	PerVehicle []VehicleResult `json:"per_vehicle,omitempty"`
}

// TargetResult is one target's share of the fleet.
type TargetResult struct {
	Target   string `json:"target"`
	Vehicles int    `json:"vehicles"`
	// FirstSysID..LastSysID are the system IDs used on this target.
	FirstSysID int    `json:"first_sysid"`
	LastSysID  int    `json:"last_sysid"`
	Sent       uint64 `json:"sent"`
}

// VehicleResult is one vehicle's count of what it sent.
type VehicleResult struct {
	Target    int    `json:"target"`
	SystemID  int    `json:"sysid"`
	Positions uint64 `json:"positions"`
	Sent      uint64 `json:"sent"`
}

// Validate checks cfg and names the setting at fault.
func (c Config) Validate() error {
	if c.Vehicles < 1 {
		return fmt.Errorf("vehicles %d: must be at least 1", c.Vehicles)
	}
	if len(c.Targets) == 0 {
		return errors.New("target: at least one udp:HOST:PORT is needed")
	}
	per := c.perTarget()
	if c.PerTarget < 0 || c.PerTarget > MaxPerTarget {
		return fmt.Errorf("per-link %d: must be 1-%d", c.PerTarget, MaxPerTarget)
	}
	if need := (c.Vehicles + per - 1) / per; need > len(c.Targets) {
		return fmt.Errorf("%d vehicles need %d targets at %d vehicles per link, %d given", c.Vehicles, need, per, len(c.Targets))
	}
	for _, t := range c.Targets {
		if _, err := parseTarget(t); err != nil {
			return err
		}
	}
	if c.Duration < 0 {
		return fmt.Errorf("duration %v: must not be negative", c.Duration)
	}
	return nil
}

func (c Config) perTarget() int {
	if c.PerTarget <= 0 {
		return MaxPerTarget
	}
	return c.PerTarget
}

// parseTarget reads the station's UDP link spec (grammar: internal/linkspec)
// as an IPv4 address to send to.
func parseTarget(s string) (netip.AddrPort, error) {
	spec, err := linkspec.ParseTarget(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("target %q: %w", s, err)
	}
	host := spec.Host
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ap, err := netip.ParseAddrPort(net.JoinHostPort(host, strconv.Itoa(spec.Port)))
	if err != nil || !ap.Addr().Is4() || ap.Port() == 0 {
		return netip.AddrPort{}, fmt.Errorf("target %q: want an IPv4 address and a port 1-65535", s)
	}
	return ap, nil
}

// Run sends the load until Duration has passed or ctx is cancelled and
// returns the counts. Sockets are opened before the first deadline and
// closed before Run returns.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Bind == "" {
		cfg.Bind = "127.0.0.1"
	}
	bind, err := netip.ParseAddr(cfg.Bind)
	if err != nil || !bind.Is4() {
		return nil, fmt.Errorf("bind %q: want an IPv4 address", cfg.Bind)
	}
	for cfg.RunID&0xFF_FFFF == 0 {
		cfg.RunID = rand.Uint32()
	}
	if cfg.CenterLat == 0 && cfg.CenterLon == 0 {
		cfg.CenterLat, cfg.CenterLon = simvehicle.DefaultHome.Lat, simvehicle.DefaultHome.Lon
	}
	per := cfg.perTarget()
	// Spread evenly: as many targets as needed, equal shares.
	nt := (cfg.Vehicles + per - 1) / per
	if nt < len(cfg.Targets) {
		nt = len(cfg.Targets)
	}
	if nt > cfg.Vehicles {
		nt = cfg.Vehicles
	}
	res := &Result{Vehicles: cfg.Vehicles, Sent: map[string]uint64{}}
	vehicles := make([]*vehicle, 0, cfg.Vehicles)
	defer func() {
		for _, v := range vehicles {
			v.close()
		}
	}()
	idx := 0
	for t := 0; t < nt; t++ {
		ap, _ := parseTarget(cfg.Targets[t])
		share := cfg.Vehicles / nt
		if t < cfg.Vehicles%nt {
			share++
		}
		res.Targets = append(res.Targets, TargetResult{Target: cfg.Targets[t], Vehicles: share, FirstSysID: 1, LastSysID: share})
		for s := 1; s <= share; s++ {
			v, err := newVehicle(idx, t, uint8(s), bind, ap, cfg)
			if err != nil {
				return nil, fmt.Errorf("vehicle %d (target %s, sysid %d): %w", idx, cfg.Targets[t], s, err)
			}
			vehicles = append(vehicles, v)
			idx++
		}
	}
	// Interleave targets in phase order so each target's load is flat too.
	order := make([]*vehicle, 0, len(vehicles))
	for s := 0; len(order) < len(vehicles); s++ {
		for _, v := range vehicles {
			if int(v.sysid)-1 == s {
				order = append(order, v)
			}
		}
	}
	n := len(order)
	for i, v := range order {
		v.phase = time.Duration(int64(Cycle) * int64(i) / int64(n))
	}

	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if maxW := (n + 49) / 50; workers > maxW {
		workers = maxW
	}
	ws := make([]*worker, workers)
	for w := range ws {
		ws[w] = &worker{cfg: &cfg}
	}
	for i, v := range order {
		ws[i%workers].vehicles = append(ws[i%workers].vehicles, v)
	}
	for _, w := range ws {
		if err := w.open(); err != nil {
			for _, w2 := range ws {
				w2.closeEpoll()
			}
			return nil, err
		}
	}

	cpu0 := cpuTimes()
	start := time.Now().Add(50 * time.Millisecond).Truncate(time.Millisecond)
	end := time.Time{}
	if cfg.Duration > 0 {
		end = start.Add(cfg.Duration)
	}
	cfg.Log.Info("loadgen starting", "vehicles", n, "targets", nt, "workers", workers, "duration", cfg.Duration)
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx, start, end)
		}()
	}
	wg.Wait()
	stopped := time.Now()
	if !end.IsZero() && stopped.After(end) {
		stopped = end
	}
	cpu1 := cpuTimes()
	for _, w := range ws {
		w.closeEpoll()
		res.Received += w.received
		res.Commands += w.commands
		res.SendErrors += w.sendErrors
		res.LateSlots += w.lateSlots
		res.MaxLagMS = math.Max(res.MaxLagMS, float64(w.maxLag)/1e6)
	}
	for _, v := range vehicles {
		vr := VehicleResult{Target: v.target, SystemID: int(v.sysid)}
		for typ, c := range v.sent {
			if c == 0 {
				continue
			}
			res.Sent[msgNames[typ]] += c
			res.SentTotal += c
			res.Targets[v.target].Sent += c
			vr.Sent += c
		}
		vr.Positions = v.sent[mGlobalPosition]
		res.PerVehicle = append(res.PerVehicle, vr)
	}
	res.DurationS = stopped.Sub(start).Seconds()
	res.CPUUserS = cpu1.user - cpu0.user
	res.CPUSysS = cpu1.sys - cpu0.sys
	if res.DurationS > 0 {
		res.CPUPercent = 100 * (res.CPUUserS + res.CPUSysS) / res.DurationS
	}
	cfg.Log.Info("loadgen done", "sent", res.SentTotal, "send_errors", res.SendErrors, "cpu_pct", fmt.Sprintf("%.1f", res.CPUPercent),
		"late_slots", res.LateSlots, "max_lag_ms", fmt.Sprintf("%.1f", res.MaxLagMS))
	return res, nil
}

type cpu struct{ user, sys float64 }
