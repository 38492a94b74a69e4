package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

func init() {
	register(&command{
		name:    "operations",
		summary: "patrol operations of a running station (continuous coverage): create, list, get, start, pause, resume, stop, ready",
		run:     operationsCmd,
	})
}

const operationsUsage = `Usage: burgut operations <create|list|get|start|pause|resume|stop|ready> [flags]

  create   POST /api/v1/operations: --area, --pattern, --slots, --vehicles, --start, --end
           [--endurance-min, --swap-min, --reserve-pct, --pad-sequencing,
           --transit-layer=false]
  list     every operation
  get      one operation with its coverage metrics (--id)
  start, pause, resume, stop   change an operation (--id)
  ready    a crew confirms a vehicle swapped and fit to fly (--id, --vehicle)

A client of the station's HTTP API (docs/api.md, "Patrol operations"): it
prints the API's JSON answer; an API error is printed and exits 1. The
token is read from --token-file or BURGUT_TOKEN (an operator's API token,
burgut tokens create).

Flags:`

func operationsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("operations", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "http://127.0.0.1:8080", "the station's HTTP address (burgut serve --http)")
	tokenFile := fs.String("token-file", "", "file holding an API token (default: $BURGUT_TOKEN)")
	id := fs.String("id", "", "operation id (get, start, pause, resume, stop, ready)")
	vehicle := fs.String("vehicle", "", "vehicle id (ready)")
	area := fs.String("area", "", "create: event area id")
	pattern := fs.String("pattern", "perimeter", "create: perimeter, sweep, loop or corridor")
	slots := fs.Int("slots", 1, "create: drones on station at once")
	vehicles := fs.String("vehicles", "", "create: the pool, comma-separated vehicle ids")
	start := fs.String("start", "now", "create: RFC 3339 or now (operation clock)")
	end := fs.String("end", "", "create: RFC 3339, or a duration after start (e.g. 3h)")
	swap := fs.Float64("swap-min", 0, "create: minutes a battery swap takes (0 = 5)")
	reserve := fs.Float64("reserve-pct", 0, "create: charge every drone keeps after landing (0 = 20)")
	endurance := fs.Float64("endurance-min", 0, "create: the drones' full-battery flight time at cruise, minutes: the endurance assumed until each drone's own consumption is learned in flight (0 = 20; burgut sitl/run --endurance-min for simulated drones)")
	pad := fs.String("pad-sequencing", "", "create: what is sequenced at the shared launch pad: takeoffs, all or off (empty = takeoffs)")
	transit := fs.Bool("transit-layer", true, "create: transits and returns on a layer above every patrol (the station's default; where the band has no room the operation is planned without it and warns); --transit-layer=false plans without it")
	fs.Usage = func() { fmt.Fprintln(stderr, operationsUsage); fs.PrintDefaults() }
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return fmt.Errorf("%w: want one of create, list, get, start, pause, resume, stop, ready", errUsage)
	}
	token := os.Getenv("BURGUT_TOKEN")
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return fmt.Errorf("token-file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	need := func(name, v string) error {
		if v == "" {
			return fmt.Errorf("%w: %s needs --%s", errUsage, pos[0], name)
		}
		return nil
	}
	base := strings.TrimRight(*server, "/") + "/api/v1/operations"
	method, path := http.MethodPost, base
	var body any
	switch what := pos[0]; what {
	case "list":
		method = http.MethodGet
	case "get":
		if err := need("id", *id); err != nil {
			return err
		}
		method, path = http.MethodGet, base+"/"+url.PathEscape(*id)
	case "start", "pause", "resume", "stop":
		if err := need("id", *id); err != nil {
			return err
		}
		path, body = base+"/"+url.PathEscape(*id)+"/"+what, map[string]any{}
	case "ready":
		if err := need("id", *id); err != nil {
			return err
		}
		if err := need("vehicle", *vehicle); err != nil {
			return err
		}
		path, body = base+"/"+url.PathEscape(*id)+"/vehicles/"+url.PathEscape(*vehicle)+"/ready", map[string]any{}
	case "create":
		for _, f := range []struct{ n, v string }{{"area", *area}, {"vehicles", *vehicles}, {"end", *end}} {
			if err := need(f.n, f.v); err != nil {
				return err
			}
		}
		e := *end
		if d, err := time.ParseDuration(e); err == nil {
			s := time.Now()
			if *start != "now" {
				if s, err = time.Parse(time.RFC3339, *start); err != nil {
					return fmt.Errorf("%w: start %q: want RFC 3339 or now", errUsage, *start)
				}
			}
			e = s.Add(d).Format(time.RFC3339)
		}
		body = map[string]any{"area_id": *area, "pattern": *pattern, "slots": *slots, "vehicle_ids": strings.Split(*vehicles, ","),
			"start": *start, "end": e, "swap_min": *swap, "reserve_pct": *reserve, "endurance_min": *endurance, "pad_sequencing": *pad}
		// Only a flag given is sent: absent, the station's default (on,
		// with its fallback) applies; true insists on the layer.
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "transit-layer" {
				body.(map[string]any)["transit_layer"] = *transit
			}
		})
	default:
		fs.Usage()
		return fmt.Errorf("%w: unknown action %q", errUsage, what)
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return fmt.Errorf("%w: server %q: %v", errUsage, *server, err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(raw)))
	}
	_, err = stdout.Write(raw)
	return err
}
