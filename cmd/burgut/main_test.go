package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestUnknownCommandExitsTwoAndListsCommands(t *testing.T) {
	var out, errb bytes.Buffer
	code := runMain(context.Background(), []string{"no-such-command"}, &out, &errb)
	if code != 2 {
		t.Fatalf("exit code = %d, want 2", code)
	}
	if !strings.Contains(errb.String(), `unknown command "no-such-command"`) {
		t.Fatalf("stderr does not name the command: %q", errb.String())
	}
}

func TestNewLoggerRejectsUnknownLevel(t *testing.T) {
	if _, err := newLogger(&bytes.Buffer{}, "loud"); err == nil || !strings.Contains(err.Error(), `"loud"`) {
		t.Fatalf("err = %v, want one naming the level", err)
	}
}
