package app

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/groundstation/session"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "burgut.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadPrecedenceDefaultsFileEnvFlags(t *testing.T) {
	p := writeFile(t, `
http = "127.0.0.1:9000"
station = "from-file"
mavlink = ["udp:127.0.0.1:14550", "udp:127.0.0.1:14560"]
link-timeout = "7s"
stream-rate = 8
`)
	t.Setenv("BURGUT_STATION", "from-env")
	cfg, err := Load("serve", []string{"--config", p, "--stream-rate", "2"}, false, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP != "127.0.0.1:9000" {
		t.Errorf("http = %q, want the file's value", cfg.HTTP)
	}
	if cfg.Station != "from-env" {
		t.Errorf("station = %q, want the environment to beat the file", cfg.Station)
	}
	if cfg.GroundStation.StreamRateHz != 2 {
		t.Errorf("stream-rate = %v, want the flag to beat the file", cfg.GroundStation.StreamRateHz)
	}
	if cfg.GroundStation.HeartbeatTimeout != 7*time.Second {
		t.Errorf("link-timeout = %v", cfg.GroundStation.HeartbeatTimeout)
	}
	if want := []string{"udp:127.0.0.1:14550", "udp:127.0.0.1:14560"}; !reflect.DeepEqual(cfg.GroundStation.MAVLink, want) {
		t.Errorf("mavlink = %v, want %v", cfg.GroundStation.MAVLink, want)
	}
	if cfg.DataDir != Default().DataDir {
		t.Errorf("data-dir = %q, want the default", cfg.DataDir)
	}
}

func TestRepeatedFlagsReplaceListsFromFileAndDefaults(t *testing.T) {
	p := writeFile(t, `mavlink = ["udp:127.0.0.1:1"]`)
	cfg, err := Load("serve", []string{"--config=" + p, "--mavlink", "udp:127.0.0.1:2", "--mavlink", "tcp:127.0.0.1:5760"}, false, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"udp:127.0.0.1:2", "tcp:127.0.0.1:5760"}; !reflect.DeepEqual(cfg.GroundStation.MAVLink, want) {
		t.Fatalf("mavlink = %v, want %v", cfg.GroundStation.MAVLink, want)
	}
	cfg, err = Load("serve", []string{"--mavlink", "udp:127.0.0.1:3"}, false, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"udp:127.0.0.1:3"}; !reflect.DeepEqual(cfg.GroundStation.MAVLink, want) {
		t.Fatalf("mavlink = %v, want the flag to replace the default", cfg.GroundStation.MAVLink)
	}
}

func TestEnvListIsCommaSeparated(t *testing.T) {
	t.Setenv("BURGUT_MAVLINK", "udp:127.0.0.1:1, udp:127.0.0.1:2")
	cfg, err := Load("serve", nil, false, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"udp:127.0.0.1:1", "udp:127.0.0.1:2"}; !reflect.DeepEqual(cfg.GroundStation.MAVLink, want) {
		t.Fatalf("mavlink = %v", cfg.GroundStation.MAVLink)
	}
}

func TestBadConfigSaysWhatAndWhere(t *testing.T) {
	cases := []struct {
		name, file string
		args       []string
		env        map[string]string
		want       []string
	}{
		{"syntax error gives the line", "http = \"x:1\"\nstation = = 3\n", nil, nil, []string{"line 2"}},
		{"unknown key is named", "htpp = \"127.0.0.1:1\"\n", nil, nil, []string{`unknown setting "htpp"`}},
		{"tables are refused", "[influx]\nurl = \"x\"\n", nil, nil, []string{`"influx"`, "table"}},
		{"wrong type is named", "stream-rate = \"fast\"\n", nil, nil, []string{`"stream-rate"`}},
		{"list where scalar", "http = [\"a\"]\n", nil, nil, []string{`"http"`, "list"}},
		{"bad link kind", "", []string{"--mavlink", "carrier-pigeon:1"}, nil, []string{"carrier-pigeon", "unknown link kind"}},
		{"bad port", "", []string{"--http", "127.0.0.1:99999"}, nil, []string{"http", "port"}},
		{"bad env value names the variable", "", nil, map[string]string{"BURGUT_STREAM_RATE": "lots"}, []string{"BURGUT_STREAM_RATE"}},
		{"influx url without bucket", "", []string{"--influx-url", "http://127.0.0.1:8086"}, nil, []string{"influx-bucket"}},
		{"station name with slash", "", []string{"--station", "a/b"}, nil, []string{"station", "MQTT"}},
		{"stray argument", "", []string{"extra"}, nil, []string{`unexpected argument "extra"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if c.file != "" {
				args = append([]string{"--config", writeFile(t, c.file)}, args...)
			}
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			_, err := Load("serve", args, false, &bytes.Buffer{})
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestMissingConfigFileIsAnError(t *testing.T) {
	_, err := Load("serve", []string{"--config", filepath.Join(t.TempDir(), "nope.toml")}, false, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "nope.toml") {
		t.Fatalf("err = %v", err)
	}
}

func TestRunSettingsValidated(t *testing.T) {
	_, err := Load("run", []string{"--vehicles", "-3"}, true, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "vehicles") {
		t.Fatalf("err = %v", err)
	}
	_, err = Load("run", []string{"--home", "91,0"}, true, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "home") {
		t.Fatalf("err = %v", err)
	}
}

// The shipped example is generated from the flags; this keeps it in sync.
func TestExampleConfigIsCurrentAndLoads(t *testing.T) {
	var b bytes.Buffer
	if err := WriteExample(&b, false); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "burgut.example.toml")
	shipped, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(shipped) != b.String() {
		t.Fatalf("burgut.example.toml is out of date: regenerate with 'go run ./cmd/burgut serve --print-config > burgut.example.toml'")
	}
	cfg, err := Load("serve", []string{"--config", path}, false, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("the example does not load: %v", err)
	}
	if !reflect.DeepEqual(cfg.GroundStation, Default().GroundStation) || cfg.HTTP != Default().HTTP {
		t.Fatalf("the example's values differ from the defaults")
	}
}

// Named links pass validation with the station's own parser, and the
// simulated fleet finds a named UDP link to send to (issue 9, defect 5).
func TestNamedLinksAccepted(t *testing.T) {
	cfg, err := Load("serve", []string{"--mavlink", "radio=serial:/dev/ttyUSB0:57600", "--mavlink", "gcs=udp:0.0.0.0:14551"}, true, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("named links refused: %v", err)
	}
	a := &App{Config: cfg}
	got, err := a.simTarget()
	if err != nil || got != "udp:127.0.0.1:14551" {
		t.Fatalf("simTarget = %q, %v; want udp:127.0.0.1:14551", got, err)
	}
	_, err = Load("serve", []string{"--mavlink", "bad name=udp:127.0.0.1:1"}, false, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "link name") {
		t.Fatalf("bad link name: error %v, want one naming the link name", err)
	}
}

// --refusal-text-window reaches the session options: its default is the
// session's own, 0 turns the collection off (a negative window in
// session.Options), and a negative flag is refused by name.
func TestRefusalTextWindowFlag(t *testing.T) {
	cfg, err := Load("serve", nil, false, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.GroundStation.RefusalTextWindow, session.DefaultOptions().RefusalTextWindow; got != want {
		t.Errorf("default refusal-text-window = %v, want the session's %v", got, want)
	}
	cfg, err = Load("serve", []string{"--refusal-text-window", "300ms"}, false, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if got := offIfZero(cfg.GroundStation.RefusalTextWindow); got != 300*time.Millisecond {
		t.Errorf("refusal-text-window 300ms gives session window %v", got)
	}
	cfg, err = Load("serve", []string{"--refusal-text-window", "0"}, false, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if got := offIfZero(cfg.GroundStation.RefusalTextWindow); got >= 0 {
		t.Errorf("refusal-text-window 0 gives session window %v, want negative (off)", got)
	}
	_, err = Load("serve", []string{"--refusal-text-window", "-1s"}, false, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "refusal-text-window") {
		t.Errorf("negative window: err = %v, want it named", err)
	}
}
