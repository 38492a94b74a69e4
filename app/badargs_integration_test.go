package app

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/groundstation/session"
	"github.com/burgut-uav/burgut/internal/testenv"
)

// apiError is the house error body.
type apiError struct {
	Error struct {
		Code    string         `json:"code"`
		Message string         `json:"message"`
		Field   string         `json:"field"`
		Details map[string]any `json:"details"`
	} `json:"error"`
}

// Defects 1 and 2 of issue 9, through the real simulator over UDP and the
// HTTP API: a refusal keeps the reason ArduCopter sends just after its
// COMMAND_ACK, and a bad mode or an out-of-range INT8 parameter is the
// caller's 400, not a 500.
func TestRefusalReasonAndBadArgumentsThroughTheAPI(t *testing.T) {
	_, base := startRun(t, 1, 5)
	var vs []fleet.Vehicle
	testenv.Eventually(t, 60*time.Second, "the vehicle", func() bool {
		getJSON(t, base+"/api/v1/vehicles", &vs)
		return len(vs) == 1 && vs[0].GPSFix >= 3 && vs[0].Home != nil
	})
	v := base + "/api/v1/vehicles/" + vs[0].ID

	// AUTO is not armable without AUTO_OPTIONS: ArduCopter answers FAILED,
	// then says why in a STATUSTEXT.
	var ok map[string]any
	if code := sendJSON(t, "PUT", v+"/mission", map[string]any{"items": patrolFor(vs[0])}, &ok); code != 200 {
		t.Fatalf("upload: %d %v", code, ok)
	}
	if code := sendJSON(t, "POST", v+"/commands/mode", map[string]any{"mode": "AUTO"}, &ok); code != 200 {
		t.Fatalf("mode AUTO: %d %v", code, ok)
	}
	var e apiError
	start := time.Now()
	code := sendJSON(t, "POST", v+"/commands/arm", map[string]any{}, &e)
	t.Logf("refused arm answered with its reason in %v (window %v)", time.Since(start).Round(time.Millisecond), session.DefaultOptions().RefusalTextWindow)
	if code != http.StatusUnprocessableEntity || e.Error.Code != "refused" || e.Error.Details["result"] != "FAILED" {
		t.Fatalf("arm in AUTO: %d %+v", code, e)
	}
	if text, _ := e.Error.Details["text"].(string); !strings.Contains(text, "AUTO mode not armable") {
		t.Errorf("the refusal lost its reason: details %v", e.Error.Details)
	}
	if texts, _ := e.Error.Details["texts"].([]any); len(texts) == 0 || !strings.Contains(texts[0].(string), "not armable") {
		t.Errorf("details.texts %v", e.Error.Details["texts"])
	}
	if !strings.Contains(e.Error.Message, "not armable") {
		t.Errorf("message %q does not say why", e.Error.Message)
	}

	// Bad arguments: 400 naming the field, and nothing sent.
	for _, c := range []struct {
		what, method, url string
		body              map[string]any
		field, text       string
	}{
		{"unknown mode", "POST", v + "/commands/mode", map[string]any{"mode": "FLYFAST"}, "mode", "FLYFAST"},
		{"INT8 parameter out of range", "PUT", v + "/params/FENCE_ACTION", map[string]any{"value": 300}, "value", "INT8"},
		{"parameter name too long", "PUT", v + "/params/A_NAME_LONGER_THAN_16", map[string]any{"value": 1}, "name", "16"},
		{"parameter name too long (read)", "GET", v + "/params/A_NAME_LONGER_THAN_16", nil, "name", "16"},
	} {
		var e apiError
		code := sendJSON(t, c.method, c.url, c.body, &e)
		if code != http.StatusBadRequest || e.Error.Code != "invalid" || e.Error.Field != c.field || !strings.Contains(e.Error.Message, c.text) {
			t.Errorf("%s: %d %+v, want 400 invalid on %q mentioning %q", c.what, code, e.Error, c.field, c.text)
		}
	}
}
