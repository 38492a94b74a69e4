package groundstation

import (
	"fmt"

	"github.com/bluenviron/gomavlib/v3"

	"github.com/burgut-uav/burgut/internal/linkspec"
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

// CheckLinks reports whether specs would open: the same check New makes,
// for configuration validation before anything starts.
func CheckLinks(specs []string) error {
	_, err := parseLinks(specs)
	return err
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

// parseLink turns one spec (grammar: package linkspec) into a gomavlib
// endpoint.
func parseLink(spec string) (*link, error) {
	s, err := linkspec.Parse(spec)
	if err != nil {
		return nil, err
	}
	l := &link{name: s.Name, spec: spec, kind: s.Kind}
	switch s.Kind {
	case "udp":
		l.endpoint = gomavlib.EndpointUDPServer{Address: s.Address}
	case "udpc":
		l.endpoint = gomavlib.EndpointUDPClient{Address: s.Address}
	case "tcp":
		l.endpoint = gomavlib.EndpointTCPClient{Address: s.Address}
	case "tcps":
		l.endpoint = gomavlib.EndpointTCPServer{Address: s.Address}
	case "serial":
		l.endpoint = gomavlib.EndpointSerial{Device: s.Device, Baud: s.Baud}
	default:
		return nil, fmt.Errorf("link kind %q has no endpoint", s.Kind)
	}
	return l, nil
}
