package main

import (
	"context"
	"fmt"
	"io"

	"github.com/burgut-uav/burgut/audit"
)

func init() {
	register(&command{
		name:    "audit",
		summary: "check the audit log: audit verify --data-dir DIR",
		run:     auditCmd,
	})
}

func auditCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return subcommand("audit", args, map[string]func([]string) error{
		"verify": func(args []string) error {
			sf := newStoreFlags("audit verify", stderr)
			if err := sf.parse(args); err != nil {
				return err
			}
			n, err := audit.VerifyFile(sf.dataDir)
			if err != nil {
				return fmt.Errorf("%s: %w (%d entries before it are intact)", audit.Path(sf.dataDir), err, n)
			}
			fmt.Fprintf(stdout, "%s: %d entries, chain intact\n", audit.Path(sf.dataDir), n)
			return nil
		},
	}, "verify")
}
