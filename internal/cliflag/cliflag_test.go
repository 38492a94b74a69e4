package cliflag

import (
	"flag"
	"io"
	"slices"
	"testing"
)

func TestListDefaultLoadAndCommandLine(t *testing.T) {
	parse := func(l *List, args ...string) {
		t.Helper()
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.Var(l, "x", "")
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
	}
	v := []string{"default"}
	l := NewList(&v)
	parse(l)
	if !slices.Equal(v, []string{"default"}) || l.Given() {
		t.Fatalf("no flags: %v given=%v, want the default", v, l.Given())
	}
	parse(l, "-x", "a", "-x", "b")
	if !slices.Equal(v, []string{"a", "b"}) || !l.Given() {
		t.Fatalf("two flags: %v, want [a b] replacing the default", v)
	}
	l.Load([]string{"file1", "file2"})
	if !slices.Equal(l.Values(), []string{"file1", "file2"}) || !l.Given() {
		t.Fatalf("loaded: %v", l.Values())
	}
	parse(l, "-x", "c")
	if !slices.Equal(v, []string{"c"}) || l.String() != "c" {
		t.Fatalf("a command-line value after a load: %v, want [c] replacing the loaded list", v)
	}
}
