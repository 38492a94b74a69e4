package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/burgut-uav/burgut/auth"
)

func init() {
	register(&command{
		name:    "tokens",
		summary: "manage API tokens: tokens create|list|revoke --data-dir DIR",
		run:     tokensCmd,
	})
}

func tokensCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var name, role, id string
	var expires time.Duration
	run := func(action string, extra func(fs *flag.FlagSet), fn func(s *auth.Store) error) func([]string) error {
		return storeAction("tokens "+action, stderr, extra, fn)
	}
	actions := map[string]func([]string) error{
		"create": run("create", func(fs *flag.FlagSet) {
			fs.StringVar(&name, "name", "", "token name (who or what uses it, e.g. center-archive)")
			fs.StringVar(&role, "role", "", "observer, operator or admin")
			fs.DurationVar(&expires, "expires", 0, "lifetime, e.g. 24h (0 = never expires)")
		}, func(s *auth.Store) error {
			if err := errors.Join(required("name", name), required("role", role)); err != nil {
				return err
			}
			r, err := auth.ParseRole(role)
			if err != nil {
				return fmt.Errorf("%w: %v", errUsage, err)
			}
			if expires < 0 {
				return fmt.Errorf("%w: --expires %v must not be negative", errUsage, expires)
			}
			tok, t, err := s.CreateToken(ctx, name, r, expires)
			if err != nil {
				return err
			}
			// The token alone on stdout (scripts capture it); it is shown
			// only this once.
			fmt.Fprintln(stdout, tok)
			exp := "never expires"
			if t.Expires != nil {
				exp = "expires " + t.Expires.Format(time.RFC3339)
			}
			fmt.Fprintf(stderr, "token %s (id %s, %s, %s) created; it is not shown again\n", t.Name, t.ID, t.Role, exp)
			return nil
		}),
		"list": run("list", nil, func(s *auth.Store) error {
			ts, err := s.ListTokens(ctx)
			if err != nil {
				return err
			}
			now := time.Now()
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tROLE\tSTATUS\tCREATED\tEXPIRES")
			for _, t := range ts {
				status := "active"
				switch {
				case t.Revoked != nil:
					status = "revoked"
				case !t.Active(now):
					status = "expired"
				}
				exp := "never"
				if t.Expires != nil {
					exp = t.Expires.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, status, t.Created.Format(time.RFC3339), exp)
			}
			return tw.Flush()
		}),
		"revoke": run("revoke", func(fs *flag.FlagSet) {
			fs.StringVar(&name, "name", "", "revoke the active token with this name")
			fs.StringVar(&id, "id", "", "revoke the token with this ID (see 'tokens list')")
		}, func(s *auth.Store) error {
			if (name == "") == (id == "") {
				return fmt.Errorf("%w: give exactly one of --name and --id", errUsage)
			}
			t, err := s.RevokeToken(ctx, id+name)
			if err != nil {
				return err
			}
			fmt.Fprintf(stderr, "token %s (id %s) revoked; the station refuses it from its next request\n", t.Name, t.ID)
			return nil
		}),
	}
	return subcommand("tokens", args, actions, "create|list|revoke")
}
