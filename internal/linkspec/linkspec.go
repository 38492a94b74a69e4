// Package linkspec parses MAVLink link specs, the one grammar every part of
// Burgut uses to name a link: `burgut serve --mavlink` and its config file,
// the station that opens the links, the simulated fleet that sends to the
// station (`burgut run`, `burgut sitl --gcs`) and `burgut replay --to`.
//
//	[NAME=]KIND:ADDRESS
//	  udp:HOST:PORT     UDP server (vehicles send here)
//	  udpc:HOST:PORT    UDP client
//	  tcp:HOST:PORT     TCP client (e.g. a SITL on 5760)
//	  tcps:HOST:PORT    TCP server
//	  serial:DEVICE:BAUD
//
// It is a leaf with no MAVLink library behind it, so the simulator and the
// command line can use it without importing the ground station.
package linkspec

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultStation is the link a ground station listens on, and the
// simulator and replay send to, unless told otherwise: MAVLink's
// conventional ground-station port on loopback.
const DefaultStation = "udp:127.0.0.1:14550"

// MaxVehiclesPerLink is how many vehicles one MAVLink network (one link)
// carries at most: system IDs are 8 bits and 255 is the ground station by
// convention; like Skybrush we keep a margin and use 1..250. The simulator
// and the load generator split larger fleets over several links by it.
const MaxVehiclesPerLink = 250

// Kinds lists the link kinds in the order the help texts name them.
const Kinds = "udp, udpc, tcp, tcps, serial"

// Spec is one parsed link spec.
type Spec struct {
	// Raw is the spec as given.
	Raw string
	// Name is the NAME= prefix, or when there is none a name derived from
	// the address (udp14550, tcp5760, serial-ttyUSB0). It is URL-safe.
	Name string
	// Named reports whether Name came from the spec.
	Named bool
	// Kind is udp, udpc, tcp, tcps or serial.
	Kind string
	// Address is what follows KIND: (HOST:PORT or DEVICE:BAUD).
	Address string
	// Host and Port are set for the network kinds (Host may be empty: all
	// interfaces).
	Host string
	Port int
	// Device and Baud are set for serial links.
	Device string
	Baud   int
}

// Listens reports whether the local end accepts connections or datagrams
// (udp, tcps) rather than reaching out to a peer.
func (s Spec) Listens() bool { return s.Kind == "udp" || s.Kind == "tcps" }

// Parse checks spec against the grammar above as the station opening the
// link sees it; the error says what is wrong but not which setting held it,
// so callers prefix that.
func Parse(spec string) (Spec, error) {
	s, err := parse(spec)
	if err != nil {
		return s, err
	}
	if s.Listens() && s.Host != "" && s.Host != "localhost" && net.ParseIP(s.Host) == nil {
		return s, fmt.Errorf("address %q: a server needs an IPv4 address to listen on", s.Address)
	}
	return s, nil
}

// ParseTarget parses the station's UDP server link as seen from the peer
// that sends to it (the simulated vehicles, `burgut replay --to`): the same
// spec the station was given, so `gcs=udp:127.0.0.1:14550` works on both
// sides. Only udp is a target; HOST may be a name the caller resolves, and
// the port must be one a datagram can be sent to.
func ParseTarget(spec string) (Spec, error) {
	s, err := parse(spec)
	if err != nil {
		return s, err
	}
	if s.Kind != "udp" {
		return s, fmt.Errorf("link kind %q: want the station's UDP link, [NAME=]udp:HOST:PORT", s.Kind)
	}
	if s.Host == "" || s.Port == 0 {
		return s, fmt.Errorf("address %q: want HOST:PORT with a host and a port 1-65535", s.Address)
	}
	return s, nil
}

func parse(spec string) (Spec, error) {
	s := Spec{Raw: spec}
	rest := strings.TrimSpace(spec)
	if n, r, ok := strings.Cut(rest, "="); ok {
		if !ValidName(n) {
			return s, fmt.Errorf("link name %q: use letters, digits, '-' or '_'", n)
		}
		s.Name, s.Named, rest = n, true, r
	}
	kind, addr, ok := strings.Cut(rest, ":")
	if !ok || addr == "" {
		return s, fmt.Errorf("want [NAME=]KIND:ADDRESS, e.g. udp:127.0.0.1:14550")
	}
	s.Kind, s.Address = kind, addr
	switch kind {
	case "udp", "udpc", "tcp", "tcps":
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return s, fmt.Errorf("address %q: %w", addr, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 0 || p > 65535 {
			return s, fmt.Errorf("address %q: port %q is not a number in 0-65535", addr, port)
		}
		s.Host, s.Port = host, p
		if !s.Named {
			s.Name = kind + port
		}
	case "serial":
		i := strings.LastIndex(addr, ":")
		if i <= 0 {
			return s, fmt.Errorf("want serial:DEVICE:BAUD, e.g. serial:/dev/ttyUSB0:57600")
		}
		dev, bs := addr[:i], addr[i+1:]
		baud, err := strconv.Atoi(bs)
		if err != nil || baud <= 0 {
			return s, fmt.Errorf("baud rate %q is not a positive number", bs)
		}
		s.Device, s.Baud = dev, baud
		if !s.Named {
			s.Name = "serial-" + Sanitize(filepath.Base(dev))
		}
	default:
		return s, fmt.Errorf("unknown link kind %q (%s)", kind, Kinds)
	}
	return s, nil
}

// ValidName reports whether s may name a link: it becomes part of vehicle
// IDs, URLs and tlog file names.
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// Sanitize makes s URL-safe by replacing every other byte with '_'.
func Sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
