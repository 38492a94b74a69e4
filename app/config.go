package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/burgut-uav/burgut/internal/cliflag"
	"github.com/burgut-uav/burgut/web"
)

// Config is every setting of `burgut serve` and `burgut run`. One name per
// setting serves three sources, applied in this order (later wins):
// defaults, the TOML config file (key = flag name), environment variables
// (BURGUT_ + the flag name in upper case with '-' as '_'), command-line
// flags. Each subsystem owns its section and registers its own flags.
type Config struct {
	ConfigFile string
	Station    string // this ground station's name, used in MQTT topics and logs
	HTTP       string // HTTP API and web map listen address
	DataDir    string // embedded store, spool, tlogs, areas
	LogLevel   string
	// MetricsListen serves /metrics on its own address ("" = on HTTP).
	MetricsListen string
	// MapTiles is the web map's XYZ tile URL template ("" = the offline
	// plain background) and MapAttribution its credit line (web.Options).
	MapTiles       string
	MapAttribution string

	GroundStation GroundStationConfig
	Telemetry     TelemetryConfig
	Relay         RelayConfig
	Access        AccessConfig     // accounts, sessions, HTTPS (app/auth.go)
	Video         VideoConfig      // live video relay (app/video.go)
	Separation    SeparationConfig // live separation monitor (app/separation.go)
	Operations    OperationsConfig // patrol operations (app/operations.go)
	Sim           SimConfig        // only used by `burgut run`
}

// Default returns settings that work on an operator's laptop with nothing
// else installed.
func Default() Config {
	c := Config{
		Station:  "gs1",
		HTTP:     "127.0.0.1:8080",
		DataDir:  "burgut-data",
		LogLevel: "info",
	}
	c.GroundStation.defaults()
	c.Telemetry.defaults()
	c.Relay.defaults()
	c.Access.defaults()
	c.Video.defaults()
	c.Separation.defaults()
	c.Sim.defaults()
	return c
}

// register binds every setting to a flag whose default is the current value.
func (c *Config) register(fs *flag.FlagSet, withSim bool) {
	fs.StringVar(&c.ConfigFile, "config", c.ConfigFile, "TOML config file; keys are these flag names (see burgut.example.toml)")
	fs.StringVar(&c.Station, "station", c.Station, "this ground station's name, used in MQTT topics and logs (letters, digits, '-', '_')")
	fs.StringVar(&c.HTTP, "http", c.HTTP, "HTTP API and web map listen address (host:port)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory for the embedded store, the InfluxDB spool, tlogs and saved areas")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn or error")
	fs.StringVar(&c.MetricsListen, "metrics-listen", c.MetricsListen, "serve Prometheus /metrics on this address (host:port) instead of on --http")
	fs.StringVar(&c.MapTiles, "map-tiles", c.MapTiles, "web map base layer: XYZ tile URL template, e.g. https://tiles.example/{z}/{x}/{y}.png (empty = offline plain background; nothing leaves the machine)")
	fs.StringVar(&c.MapAttribution, "map-attribution", c.MapAttribution, "attribution shown on the web map with --map-tiles")
	c.GroundStation.register(fs)
	c.Telemetry.register(fs)
	c.Relay.register(fs)
	c.Access.register(fs)
	c.Video.register(fs)
	c.Separation.register(fs)
	c.Operations.register(fs)
	if withSim {
		c.Sim.register(fs)
	}
}

// Validate checks every section; the error names the setting at fault.
func (c *Config) Validate() error {
	if c.Station == "" || strings.IndexFunc(c.Station, func(r rune) bool {
		return !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) >= 0 {
		return fmt.Errorf("station %q: use letters, digits, '-' or '_' (it becomes an MQTT topic level)", c.Station)
	}
	if err := validHostPort("http", c.HTTP); err != nil {
		return err
	}
	if err := validHostPort("metrics-listen", c.MetricsListen); err != nil {
		return err
	}
	if c.DataDir == "" {
		return errors.New("data-dir: must not be empty")
	}
	if _, err := web.TileSource(c.MapTiles); err != nil {
		return err
	}
	return errors.Join(c.GroundStation.validate(), c.Telemetry.validate(), c.Relay.validate(), c.Access.validate(), c.Video.validate(), c.Separation.validate(), c.Operations.validate(), c.Sim.validate())
}

// Load builds the configuration of a subcommand from defaults, the config
// file named by --config (or BURGUT_CONFIG), the environment and args.
// withSim adds the simulator settings of `burgut run`.
func Load(name string, args []string, withSim bool, stderr io.Writer) (Config, error) {
	cfg := Default()
	cfg.ConfigFile = configFileArg(args)
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.register(fs, withSim)
	if cfg.ConfigFile != "" {
		if err := applyFile(fs, cfg.ConfigFile); err != nil {
			return cfg, err
		}
	}
	if err := applyEnv(fs, os.Environ()); err != nil {
		return cfg, err
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return cfg, cfg.Validate()
}

func configFileArg(args []string) string {
	file := os.Getenv("BURGUT_CONFIG")
	for i := 0; i < len(args); i++ {
		a := strings.TrimLeft(args[i], "-")
		if !strings.HasPrefix(args[i], "-") {
			continue
		}
		if v, ok := strings.CutPrefix(a, "config="); ok {
			file = v
		} else if a == "config" && i+1 < len(args) {
			file = args[i+1]
		}
	}
	return file
}

// EnvName is the environment variable that sets a flag.
func EnvName(flagName string) string {
	return "BURGUT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func applyEnv(fs *flag.FlagSet, environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		v, ok := env[EnvName(f.Name)]
		if !ok || err != nil || f.Name == "config" {
			return
		}
		if r, isList := f.Value.(*cliflag.List); isList {
			var items []string
			for _, item := range strings.Split(v, ",") {
				if item = strings.TrimSpace(item); item != "" {
					items = append(items, item)
				}
			}
			r.Load(items)
			return
		}
		if e := fs.Set(f.Name, v); e != nil {
			err = fmt.Errorf("environment variable %s=%q: %w", EnvName(f.Name), v, e)
		}
	})
	return err
}

func applyFile(fs *flag.FlagSet, path string) error {
	var raw map[string]any
	md, err := toml.DecodeFile(path, &raw)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return fmt.Errorf("config file %s line %d: %s", path, perr.Position.Line, perr.Message)
		}
		return fmt.Errorf("config file %s: %w", path, err)
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f := fs.Lookup(k)
		if f == nil || k == "config" {
			return fmt.Errorf("config file %s: unknown setting %q (settings are the flag names of 'burgut serve -h')", path, k)
		}
		where := fmt.Sprintf("config file %s: setting %q", path, k)
		switch v := raw[k].(type) {
		case []any:
			r, ok := f.Value.(*cliflag.List)
			if !ok {
				return fmt.Errorf("%s: a list is not allowed here", where)
			}
			items := make([]string, len(v))
			for i, item := range v {
				items[i] = fmt.Sprint(item)
			}
			r.Load(items)
		case map[string]any:
			return fmt.Errorf("%s: a table is not allowed (keys are flat flag names)", where)
		default:
			if err := fs.Set(k, fmt.Sprint(v)); err != nil {
				return fmt.Errorf("%s = %v: %w", where, v, err)
			}
		}
	}
	_ = md
	return nil
}

// WriteExample writes a commented TOML file listing every setting with its
// default, generated from the flags so it can never drift from them.
func WriteExample(w io.Writer, withSim bool) error {
	cfg := Default()
	fs := flag.NewFlagSet("burgut", flag.ContinueOnError)
	cfg.register(fs, withSim)
	var b strings.Builder
	b.WriteString("# Burgut configuration. Every key is a flag of 'burgut serve' (and 'burgut run');\n")
	b.WriteString("# each can also be set by an environment variable BURGUT_<KEY> (upper case, '-' as '_').\n")
	b.WriteString("# Precedence: defaults < this file < environment < command-line flags.\n")
	b.WriteString("# The values below are the defaults. Generated by 'burgut serve --print-config'.\n")
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" || f.Name == "print-config" {
			return
		}
		fmt.Fprintf(&b, "\n# %s (env %s)\n", f.Usage, EnvName(f.Name))
		if r, ok := f.Value.(*cliflag.List); ok {
			items := make([]string, 0, len(r.Values()))
			for _, s := range r.Values() {
				items = append(items, fmt.Sprintf("%q", s))
			}
			fmt.Fprintf(&b, "%s = [%s]\n", f.Name, strings.Join(items, ", "))
			return
		}
		if g, ok := f.Value.(flag.Getter); ok {
			switch g.Get().(type) {
			case bool, int, int64, uint, uint64, float64:
				fmt.Fprintf(&b, "%s = %s\n", f.Name, f.DefValue)
				return
			}
		}
		fmt.Fprintf(&b, "%s = %q\n", f.Name, f.DefValue)
	})
	_, err := io.WriteString(w, b.String())
	return err
}

func validHostPort(name, v string) error {
	if v == "" {
		return nil
	}
	i := strings.LastIndex(v, ":")
	if i < 0 {
		return fmt.Errorf("%s %q: want host:port", name, v)
	}
	var port int
	if _, err := fmt.Sscanf(v[i+1:], "%d", &port); err != nil || port < 0 || port > 65535 {
		return fmt.Errorf("%s %q: port must be a number 0-65535", name, v)
	}
	return nil
}
