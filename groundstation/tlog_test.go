package groundstation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/burgut-uav/burgut/groundstation/session"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/telemetry/tlog"
)

// A vehicle's tlog starts with its very first frame (received while the
// station still waited for its UID) and holds the station's own frames
// too: a COMMAND_LONG, then the vehicle's COMMAND_ACK for it, as the
// project's tlog reader reads them back.
func TestTlogHoldsFirstFrameAndStationFrames(t *testing.T) {
	dir := t.TempDir()
	tr, err := tlog.NewRecorder(tlog.RecorderOptions{Dir: dir, Log: testLog(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	trDone := make(chan error, 1)
	go func() { trDone <- tr.Run(ctx) }()
	defer func() { cancel(); <-trDone }()

	port := testenv.FreeUDPPort(t)
	cfg := testConfig(fmt.Sprintf("udp:127.0.0.1:%d", port))
	st, fl := startStation(t, cfg)
	st.AddFrameTap(func(id, link string, at time.Time, f frame.Frame, raw []byte, _ bool) {
		if id != "" {
			tr.Tap(id, link, at, f, raw)
		}
	})
	sim := startSim(t, 1, 21, port)
	testenv.Eventually(t, 30*time.Second, "the vehicle", func() bool { return fl.Len() == 1 })
	id := idByUID(t, fl, sim)[0]
	cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ccancel()
	res, err := st.Command(cctx, id, session.CommandRequest{Command: uint16(common.MAV_CMD_COMPONENT_ARM_DISARM), Params: [7]float32{0}})
	if err != nil {
		t.Fatalf("disarm: %v", err)
	}
	t.Logf("disarm answered %s", res.ResultName)
	cancel()
	if err := <-trDone; err != nil {
		t.Fatal(err)
	}
	trDone <- nil // for the deferred wait
	if s := tr.Stats(); s.Dropped != 0 || s.WriteErrors != 0 {
		t.Fatalf("tlog recorder lost frames: %+v", s)
	}

	var files []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".tlog") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 1 {
		t.Fatalf("tlogs %v, want one", files)
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := tlog.NewReader(f, nil)
	var first frame.Frame
	commandAt, ackAt, n := -1, -1, 0
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("entry %d: %v", n, err)
		}
		sys := e.Frame.GetSystemID()
		switch m := e.Frame.GetMessage().(type) {
		case *common.MessageCommandLong:
			if sys == 255 && m.Command == common.MAV_CMD_COMPONENT_ARM_DISARM && commandAt < 0 {
				commandAt = n
			}
		case *common.MessageCommandAck:
			if sys == 1 && m.Command == common.MAV_CMD_COMPONENT_ARM_DISARM && ackAt < 0 {
				ackAt = n
			}
		}
		if first == nil && sys == 1 {
			first = e.Frame
		}
		n++
	}
	if first == nil {
		t.Fatal("no frame of the vehicle in its tlog")
	}
	if _, ok := first.GetMessage().(*common.MessageHeartbeat); !ok || first.GetSequenceNumber() != 0 {
		t.Errorf("the tlog starts with %T seq %d, want the vehicle's first frame: HEARTBEAT seq 0",
			first.GetMessage(), first.GetSequenceNumber())
	}
	if commandAt < 0 || ackAt < 0 || ackAt < commandAt {
		t.Errorf("COMMAND_LONG at entry %d, its COMMAND_ACK at %d (of %d): want both, the command first", commandAt, ackAt, n)
	}
}
