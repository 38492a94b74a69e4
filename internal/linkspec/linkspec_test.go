package linkspec

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		spec        string
		name, kind  string
		named       bool
		host        string
		port        int
		device      string
		baud        int
		wantListens bool
	}{
		{spec: "udp:127.0.0.1:14550", name: "udp14550", kind: "udp", host: "127.0.0.1", port: 14550, wantListens: true},
		{spec: "gcs=udp:127.0.0.1:14550", name: "gcs", named: true, kind: "udp", host: "127.0.0.1", port: 14550, wantListens: true},
		{spec: " radio_2=udp::14551", name: "radio_2", named: true, kind: "udp", port: 14551, wantListens: true},
		{spec: "udpc:example.com:14555", name: "udpc14555", kind: "udpc", host: "example.com", port: 14555},
		{spec: "tcp:localhost:5760", name: "tcp5760", kind: "tcp", host: "localhost", port: 5760},
		{spec: "tcps:0.0.0.0:5770", name: "tcps5770", kind: "tcps", host: "0.0.0.0", port: 5770, wantListens: true},
		{spec: "serial:/dev/ttyUSB0:57600", name: "serial-ttyUSB0", kind: "serial", device: "/dev/ttyUSB0", baud: 57600},
		{spec: "telem=serial:/dev/serial/by-id/usb-3DR:115200", name: "telem", named: true, kind: "serial", device: "/dev/serial/by-id/usb-3DR", baud: 115200},
	} {
		s, err := Parse(tc.spec)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.spec, err)
			continue
		}
		if s.Name != tc.name || s.Named != tc.named || s.Kind != tc.kind || s.Host != tc.host || s.Port != tc.port ||
			s.Device != tc.device || s.Baud != tc.baud || s.Listens() != tc.wantListens || s.Raw != tc.spec {
			t.Errorf("Parse(%q) = %+v (listens %v)", tc.spec, s, s.Listens())
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"udp127.0.0.1:14550", "unknown link kind"},
		{"foo:127.0.0.1:1", `unknown link kind "foo"`},
		{"gcs=foo:127.0.0.1:1", `unknown link kind "foo"`},
		{"udp:127.0.0.1", "missing port"},
		{"udp:127.0.0.1:99999", "port"},
		{"udp:127.0.0.1:x", "port"},
		{"udp:example.com:14550", "IPv4"},
		{"tcps:example.com:5760", "IPv4"},
		{"serial:/dev/ttyUSB0", "serial:DEVICE:BAUD"},
		{"serial:/dev/ttyUSB0:fast", "baud rate"},
		{"bad name=udp:127.0.0.1:1", "link name"},
		{"=udp:127.0.0.1:1", "link name"},
		{"udp:", "KIND:ADDRESS"},
		{"", "KIND:ADDRESS"},
	} {
		_, err := Parse(tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error mentioning %q", tc.spec, err, tc.want)
		}
	}
}

func TestParseTarget(t *testing.T) {
	for _, spec := range []string{"udp:127.0.0.1:14550", "gcs=udp:127.0.0.1:14550", "udp:burgut.example:14550"} {
		s, err := ParseTarget(spec)
		if err != nil || s.Port != 14550 {
			t.Errorf("ParseTarget(%q) = %+v, %v", spec, s, err)
		}
	}
	for _, tc := range []struct{ spec, want string }{
		{"tcp:127.0.0.1:5760", "udp:HOST:PORT"},
		{"udp::14550", "host"},
		{"udp:127.0.0.1:0", "port"},
		{"udp:127.0.0.1:65536", "port"},
		{"gcs=pigeon:1", "unknown link kind"},
	} {
		_, err := ParseTarget(tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseTarget(%q) = %v, want an error mentioning %q", tc.spec, err, tc.want)
		}
	}
}
