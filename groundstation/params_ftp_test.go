package groundstation

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/simulator"
)

// TestParamsOverFTPThroughStation: the station's own AUTOPILOT_VERSION
// request tells the session the simulator offers FTP, so a full parameter
// download (what GET /params runs) goes over FTP: a handful of requests
// instead of one PARAM_VALUE stream, and the same list as
// PARAM_REQUEST_LIST.
func TestParamsOverFTPThroughStation(t *testing.T) {
	port := testenv.FreeUDPPort(t)
	st, fl := startStation(t, testConfig(fmt.Sprintf("udp:127.0.0.1:%d", port)))
	sim := startSimConfig(t, simulator.Config{Vehicles: 1, Seed: 4, Speedup: 1, ExtraParams: 300}, port)
	var id string
	testenv.Eventually(t, 30*time.Second, "vehicle published with its UID", func() bool {
		vs := fl.List()
		if len(vs) != 1 || vs[0].UID == 0 {
			return false
		}
		id = vs[0].ID
		return true
	})
	sess, err := st.Session(id)
	if err != nil {
		t.Fatal(err)
	}
	if caps, known := sess.Capabilities(); !known || caps&uint64(common.MAV_PROTOCOL_CAPABILITY_FTP) == 0 {
		t.Fatalf("session capabilities %#x (known %v): the FTP bit of AUTOPILOT_VERSION did not reach it", caps, known)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	list, err := sess.ParamsByList(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := ftpFrames(sim)
	got, err := sess.ParamsAll(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := ftpFrames(sim) - before; n < 3 {
		t.Fatalf("the vehicle answered %d FTP frames during ParamsAll: the download did not use FTP", n)
	}
	if len(got) != len(list) || len(got) < 300 {
		t.Fatalf("FTP gave %d parameters, PARAM_REQUEST_LIST %d", len(got), len(list))
	}
	for i := range got {
		if got[i] != list[i] {
			t.Fatalf("parameter %d: FTP %+v, list %+v", i, got[i], list[i])
		}
	}
}

func ftpFrames(sim *simulator.Sim) uint64 { return sim.Vehicle(0).FTPStats().Replies }
