package groundstation

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bluenviron/gomavlib/v3"
)

// link is one configured MAVLink link: its name, spec and gomavlib
// endpoint. Each link gets its own gomavlib Node so every frame's link is
// known without parsing channel labels.
type link struct {
	name     string
	spec     string
	kind     string
	endpoint gomavlib.EndpointConf
}

// parseLinks validates every spec and names the links; duplicate names
// get a numeric suffix.
func parseLinks(specs []string) ([]*link, error) {
	if len(specs) == 0 {
		return nil, fmt.Errorf("mavlink links: at least one is needed (e.g. udp:127.0.0.1:14550)")
	}
	var out []*link
	names := map[string]int{}
	for i, spec := range specs {
		l, err := parseLink(spec)
		if err != nil {
			return nil, fmt.Errorf("mavlink link %d %q: %w", i+1, spec, err)
		}
		names[l.name]++
		if n := names[l.name]; n > 1 {
			l.name = fmt.Sprintf("%s-%d", l.name, n)
		}
		out = append(out, l)
	}
	return out, nil
}

func parseLink(spec string) (*link, error) {
	name := ""
	rest := strings.TrimSpace(spec)
	if n, r, ok := strings.Cut(rest, "="); ok {
		name, rest = n, r
		if !validName(name) {
			return nil, fmt.Errorf("link name %q: use letters, digits, '-' or '_'", name)
		}
	}
	kind, addr, ok := strings.Cut(rest, ":")
	if !ok || addr == "" {
		return nil, fmt.Errorf("want [NAME=]KIND:ADDRESS, e.g. udp:127.0.0.1:14550")
	}
	l := &link{spec: spec, kind: kind}
	switch kind {
	case "udp", "udpc", "tcp", "tcps":
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("address %q: %w", addr, err)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			return nil, fmt.Errorf("address %q: port %q is not a number in 0-65535", addr, port)
		}
		if host != "" && net.ParseIP(host) == nil && host != "localhost" {
			// gomavlib resolves names for clients; servers need an IP.
			if kind == "udp" || kind == "tcps" {
				return nil, fmt.Errorf("address %q: a server needs an IPv4 address to listen on", addr)
			}
		}
		switch kind {
		case "udp":
			l.endpoint = gomavlib.EndpointUDPServer{Address: addr}
		case "udpc":
			l.endpoint = gomavlib.EndpointUDPClient{Address: addr}
		case "tcp":
			l.endpoint = gomavlib.EndpointTCPClient{Address: addr}
		case "tcps":
			l.endpoint = gomavlib.EndpointTCPServer{Address: addr}
		}
		if name == "" {
			name = kind + port
		}
	case "serial":
		i := strings.LastIndex(addr, ":")
		if i <= 0 {
			return nil, fmt.Errorf("want serial:DEVICE:BAUD, e.g. serial:/dev/ttyUSB0:57600")
		}
		dev, bs := addr[:i], addr[i+1:]
		baud, err := strconv.Atoi(bs)
		if err != nil || baud <= 0 {
			return nil, fmt.Errorf("baud rate %q is not a positive number", bs)
		}
		l.endpoint = gomavlib.EndpointSerial{Device: dev, Baud: baud}
		if name == "" {
			name = "serial-" + sanitize(filepath.Base(dev))
		}
	default:
		return nil, fmt.Errorf("unknown link kind %q (udp, udpc, tcp, tcps, serial)", kind)
	}
	l.name = name
	return l, nil
}

func validName(s string) bool {
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

// sanitize makes s URL-safe for use in vehicle IDs.
func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
