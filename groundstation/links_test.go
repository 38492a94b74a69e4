package groundstation

import (
	"strings"
	"testing"
)

func TestParseLinks(t *testing.T) {
	ls, err := parseLinks([]string{"udp:127.0.0.1:14550", "udp:127.0.0.1:14560", "tcp:127.0.0.1:5760",
		"udpc:127.0.0.1:14555", "tcps:127.0.0.1:5770", "serial:/dev/ttyUSB0:57600", "radio=udp:127.0.0.1:14570",
		"tcp:127.0.0.2:5760"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"udp14550", "udp14560", "tcp5760", "udpc14555", "tcps5770", "serial-ttyUSB0", "radio", "tcp5760-2"}
	for i, l := range ls {
		if l.name != want[i] {
			t.Errorf("link %d named %q, want %q", i, l.name, want[i])
		}
	}
}

func TestParseLinksErrors(t *testing.T) {
	tests := []struct{ spec, want string }{
		{"udp127.0.0.1:14550", "unknown link kind"},
		{"foo:127.0.0.1:1", `unknown link kind "foo"`},
		{"udp:127.0.0.1", "missing port"},
		{"udp:127.0.0.1:99999", "port"},
		{"udp:example.com:14550", "IPv4"},
		{"serial:/dev/ttyUSB0", "serial:DEVICE:BAUD"},
		{"serial:/dev/ttyUSB0:fast", "baud rate"},
		{"bad name=udp:127.0.0.1:1", "link name"},
		{"udp:", "KIND:ADDRESS"},
	}
	for _, tc := range tests {
		_, err := parseLinks([]string{"udp:127.0.0.1:14550", tc.spec})
		if err == nil {
			t.Errorf("%q: no error", tc.spec)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "link 2") {
			t.Errorf("%q: error %q does not name the link and %q", tc.spec, err, tc.want)
		}
	}
	if _, err := parseLinks(nil); err == nil {
		t.Error("no links: no error")
	}
}
