package vehicle

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/bluenviron/gomavlib/v3/pkg/dialect"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/ardupilotmega"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/tlog"

	"github.com/burgut-uav/burgut/internal/testenv"
)

// deliberateDefaults are the parameters whose defaults differ on purpose
// from ArduCopter SITL's (see the package doc), and those the model fills
// from Config.
var deliberateDefaults = map[string]bool{
	"FS_GCS_ENABLE": true, "BATT_FS_LOW_ACT": true, "BATT_FS_CRT_ACT": true, "BATT_CRT_VOLT": true,
	"BATT_CAPACITY": true, "MIS_TOTAL": true, "SIM_WIND_DIR": true,
}

// TestDefaultsMatchArduCopterSITL reads the parameter list a real
// ArduCopter 4.7 SITL sent (../shared tlog) and checks the model's
// defaults against it, and that the SYS_STATUS sensor bits the model
// reports on the ground are the ones the real vehicle reported.
func TestDefaultsMatchArduCopterSITL(t *testing.T) {
	path := testenv.Shared(t, "data/tlogs/arducopter-4.7-sitl-mission-fence-rally-takeoff.tlog")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rw := &dialect.ReadWriter{Dialect: ardupilotmega.Dialect}
	if err := rw.Initialize(); err != nil {
		t.Fatal(err)
	}
	r := &tlog.Reader{ByteReader: f, DialectRW: rw}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	ref := map[string]float64{}
	var firstStatus *common.MessageSysStatus
	for {
		e, err := r.Read()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			continue // a damaged frame: skip it as a reader must
		}
		switch m := e.Frame.GetMessage().(type) {
		case *common.MessageParamValue:
			if _, seen := ref[m.ParamId]; !seen {
				ref[m.ParamId] = float64(m.ParamValue)
			}
		case *common.MessageSysStatus:
			if firstStatus == nil && e.Frame.GetSystemID() == 1 {
				firstStatus = m
			}
		}
	}
	if len(ref) < 1000 {
		t.Fatalf("read %d parameters from the reference log, want its full list", len(ref))
	}
	v := New(Config{SystemID: 1, Home: testHome})
	compared := 0
	for _, p := range v.Params() {
		want, ok := ref[p.Name]
		if !ok || deliberateDefaults[p.Name] || strings.HasPrefix(p.Name, "SIM_") && p.Name != "SIM_WIND_SPD" {
			continue
		}
		compared++
		if d := p.Value - want; d > 1e-4 || d < -1e-4 {
			t.Errorf("%s default %v, ArduCopter 4.7 SITL has %v", p.Name, p.Value, want)
		}
	}
	if compared < 50 {
		t.Fatalf("only %d parameters compared", compared)
	}
	if firstStatus == nil {
		t.Fatal("no SYS_STATUS in the reference log")
	}
	v.Step(3 * DefaultGPSWarmup)
	s := v.State()
	if got, want := s.SensorsPresent, uint32(firstStatus.OnboardControlSensorsPresent); got != want {
		t.Errorf("sensors present %b, reference %b", got, want)
	}
	if got, want := s.SensorsEnabled, uint32(firstStatus.OnboardControlSensorsEnabled); got != want {
		t.Errorf("sensors enabled %b, reference %b", got, want)
	}
	if got, want := s.SensorsHealth, uint32(firstStatus.OnboardControlSensorsHealth); got != want {
		t.Errorf("sensors health %b, reference %b", got, want)
	}
}
