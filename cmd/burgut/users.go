package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/burgut-uav/burgut/app"
	"github.com/burgut-uav/burgut/auth"
)

func init() {
	register(&command{
		name:    "users",
		summary: "manage accounts: users add|list|passwd|disable|enable|remove --data-dir DIR",
		run:     usersCmd,
	})
}

// subcommand dispatches "burgut GROUP ACTION flags..." to one action.
func subcommand(group string, args []string, actions map[string]func([]string) error, order string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		return fmt.Errorf("%w: want 'burgut %s %s' (each takes -h)", errUsage, group, order)
	}
	fn, ok := actions[args[0]]
	if !ok {
		return fmt.Errorf("%w: unknown action %q: want %s", errUsage, args[0], order)
	}
	return fn(args[1:])
}

// storeFlags are the flags every users/tokens action shares.
type storeFlags struct {
	fs      *flag.FlagSet
	dataDir string
}

func newStoreFlags(name string, stderr io.Writer) *storeFlags {
	s := &storeFlags{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	s.fs.SetOutput(stderr)
	def := app.Default().DataDir
	if v := os.Getenv(app.EnvName("data-dir")); v != "" {
		def = v
	}
	s.fs.StringVar(&s.dataDir, "data-dir", def, "the station's data directory (holds auth.db and the audit log); works while the station runs")
	return s
}

// storeAction is one users/tokens action: parse the shared and the
// action's own flags, open the auth store, run, close.
func storeAction(name string, stderr io.Writer, extra func(fs *flag.FlagSet), run func(s *auth.Store) error) func([]string) error {
	return func(args []string) error {
		sf := newStoreFlags(name, stderr)
		if extra != nil {
			extra(sf.fs)
		}
		if err := sf.parse(args); err != nil {
			return err
		}
		s, err := sf.open()
		if err != nil {
			return err
		}
		defer s.Close()
		return run(s)
	}
}

func (s *storeFlags) parse(args []string) error {
	if err := s.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if s.fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, s.fs.Arg(0))
	}
	return nil
}

// open opens the auth store; it refuses to create a data directory, so a
// mistyped --data-dir is an error, not a new empty station.
func (s *storeFlags) open() (*auth.Store, error) {
	if st, err := os.Stat(s.dataDir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("data dir %q does not exist (give the station's --data-dir)", s.dataDir)
	}
	return auth.Open(s.dataDir, auth.Options{})
}

func required(name, v string) error {
	if v == "" {
		return fmt.Errorf("%w: --%s is required", errUsage, name)
	}
	return nil
}

// readPasswordFile reads a password from a file ("-" = stdin); one
// trailing newline is not part of it.
func readPasswordFile(path string) (string, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(io.LimitReader(os.Stdin, 4096))
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if err := auth.CheckPasswordPolicy(pw); err != nil {
		return "", fmt.Errorf("password file %s: %w", path, err)
	}
	return pw, nil
}

func usersCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	withStore := func(name string, extra func(fs *flag.FlagSet), run func(s *auth.Store) error) func([]string) error {
		return storeAction("users "+name, stderr, extra, run)
	}
	var name, role, pwFile string
	nameFlag := func(fs *flag.FlagSet) { fs.StringVar(&name, "name", "", "account name") }
	actions := map[string]func([]string) error{
		"add": withStore("add", func(fs *flag.FlagSet) {
			nameFlag(fs)
			fs.StringVar(&role, "role", "", "observer, operator or admin")
			fs.StringVar(&pwFile, "password-file", "", "file holding the password ('-' = stdin)")
		}, func(s *auth.Store) error {
			if err := errors.Join(required("name", name), required("role", role), required("password-file", pwFile)); err != nil {
				return err
			}
			r, err := auth.ParseRole(role)
			if err != nil {
				return fmt.Errorf("%w: %v", errUsage, err)
			}
			pw, err := readPasswordFile(pwFile)
			if err != nil {
				return err
			}
			if err := s.AddUser(ctx, name, r, pw); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "user %s added (%s)\n", name, r)
			return nil
		}),
		"list": withStore("list", nil, func(s *auth.Store) error {
			us, err := s.ListUsers(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tSTATUS\tCREATED\tUPDATED")
			for _, u := range us {
				status := "enabled"
				if u.Disabled {
					status = "disabled"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Name, u.Role, status, u.Created.Format(time.RFC3339), u.Updated.Format(time.RFC3339))
			}
			return tw.Flush()
		}),
		"passwd": withStore("passwd", func(fs *flag.FlagSet) {
			nameFlag(fs)
			fs.StringVar(&pwFile, "password-file", "", "file holding the new password ('-' = stdin)")
		}, func(s *auth.Store) error {
			if err := errors.Join(required("name", name), required("password-file", pwFile)); err != nil {
				return err
			}
			pw, err := readPasswordFile(pwFile)
			if err != nil {
				return err
			}
			if err := s.SetPassword(ctx, name, pw); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "password of %s changed; its browser sessions have ended\n", name)
			return nil
		}),
		"disable": withStore("disable", nameFlag, func(s *auth.Store) error {
			if err := required("name", name); err != nil {
				return err
			}
			if err := s.SetDisabled(ctx, name, true); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "user %s disabled; its browser sessions have ended\n", name)
			return nil
		}),
		"enable": withStore("enable", nameFlag, func(s *auth.Store) error {
			if err := required("name", name); err != nil {
				return err
			}
			return s.SetDisabled(ctx, name, false)
		}),
		"remove": withStore("remove", nameFlag, func(s *auth.Store) error {
			if err := required("name", name); err != nil {
				return err
			}
			if err := s.RemoveUser(ctx, name); err != nil {
				return err
			}
			fmt.Fprintf(stderr, "user %s removed\n", name)
			return nil
		}),
	}
	return subcommand("users", args, actions, "add|list|passwd|disable|enable|remove")
}
