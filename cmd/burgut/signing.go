package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/burgut-uav/burgut/groundstation"
)

func init() {
	register(&command{
		name:    "signing",
		summary: "MAVLink signing keys by fingerprint: signing list --data-dir DIR",
		run:     signingCmd,
	})
}

// signingCmd lists the per-vehicle MAVLink signing keys of a data dir by
// fingerprint (never the keys). Keys are set, generated and removed
// through the running station (PUT/DELETE /api/v1/vehicles/{id}/signing),
// which must tell the aircraft with SETUP_SIGNING.
func signingCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return subcommand("signing", args, map[string]func([]string) error{
		"list": func(args []string) error {
			sf := newStoreFlags("signing list", stderr)
			if err := sf.parse(args); err != nil {
				return err
			}
			path := filepath.Join(sf.dataDir, groundstation.SigningKeyFileName)
			keys, err := groundstation.ListSigningKeys(path)
			if err != nil {
				return err
			}
			if len(keys) == 0 {
				fmt.Fprintf(stdout, "%s: no signing keys (every vehicle unsigned)\n", path)
				return nil
			}
			fmt.Fprintf(stdout, "%-28s %-16s %-20s %s\n", "VEHICLE", "FINGERPRINT", "SET", "LINK/SYSID")
			for _, k := range keys {
				where := "-"
				if k.Link != "" {
					where = fmt.Sprintf("%s/%d", k.Link, k.SystemID)
				}
				fmt.Fprintf(stdout, "%-28s %-16s %-20s %s\n", k.VehicleID, k.Fingerprint, k.SetAt.UTC().Format(time.RFC3339), where)
			}
			return nil
		},
	}, "list")
}
