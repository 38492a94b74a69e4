package app

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/audit"
	"github.com/burgut-uav/burgut/auth"
	"github.com/burgut-uav/burgut/groundstation"
	"github.com/burgut-uav/burgut/internal/mavsign"
	"github.com/burgut-uav/burgut/internal/testenv"
)

// rawCall makes a request with a JSON body and returns the status and the
// response body without white space.
func rawCall(t *testing.T, method, url, body, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.Join(strings.Fields(string(b)), "") // answers are indented
}

// TestSigningThroughTheAPI keys the demo's simulated vehicle over HTTP as
// an admin and checks that the key shows nowhere — not in the answers,
// the vehicle JSON or the audit log — and that an operator may not.
func TestSigningThroughTheAPI(t *testing.T) {
	a, base := startRun(t, 1, 2)
	var id string
	testenv.Eventually(t, 30*time.Second, "the simulated vehicle", func() bool {
		vs := a.Fleet.List()
		if len(vs) == 1 && vs[0].Connected {
			id = vs[0].ID
		}
		return id != ""
	})
	url := base + "/api/v1/vehicles/" + id + "/signing"
	key := mavsign.Key{}
	for i := range key {
		key[i] = byte(0x30 + i)
	}
	keyHex := key.Hex()

	if v, _ := a.Fleet.Get(id); v.Signing != groundstation.SigningUnsigned {
		t.Fatalf("vehicle signing %q before a key, want unsigned", v.Signing)
	}
	// Bad requests are 400 naming the key, and never echo what was sent.
	for _, body := range []string{`{}`, `{"key":"abcd"}`, `{"key":"` + strings.Repeat("0", 64) + `"}`,
		`{"key":"` + keyHex + `","generate":true}`, `{"key":"` + strings.Repeat("x", 64) + `"}`} {
		code, resp := rawCall(t, http.MethodPut, url, body, "")
		if code != http.StatusBadRequest || !strings.Contains(resp, `"key"`) {
			t.Errorf("PUT %s: %d %s, want 400 naming key", body, code, resp)
		}
		if strings.Contains(resp, keyHex) || strings.Contains(resp, "xxxxxxxx") {
			t.Errorf("PUT %s: the answer repeats the key: %s", body, resp)
		}
	}
	if code, _ := rawCall(t, http.MethodPut, base+"/api/v1/vehicles/nope/signing", `{"generate":true}`, ""); code != http.StatusNotFound {
		t.Errorf("unknown vehicle: %d, want 404", code)
	}
	opTok, _, err := a.Auth.CreateToken(context.Background(), "operator-signing", auth.Operator, 0)
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := rawCall(t, http.MethodPut, url, `{"key":"`+keyHex+`"}`, opTok); code != http.StatusForbidden {
		t.Errorf("operator setting a key: %d, want 403", code)
	}

	code, resp := rawCall(t, http.MethodPut, url, `{"key":"`+keyHex+`"}`, "")
	if code != http.StatusOK || !strings.Contains(resp, `"state":"signed"`) || !strings.Contains(resp, key.Fingerprint()) {
		t.Fatalf("PUT key: %d %s", code, resp)
	}
	for _, u := range []string{url, base + "/api/v1/vehicles/" + id, base + "/api/v1/vehicles", base + "/api/v1/links"} {
		code, body := rawCall(t, http.MethodGet, u, "", opTok)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", u, code, body)
		}
		if strings.Contains(strings.ToLower(body), keyHex) {
			t.Fatalf("GET %s returns the key", u)
		}
	}
	if _, body := rawCall(t, http.MethodGet, base+"/api/v1/vehicles/"+id, "", ""); !strings.Contains(body, `"signing":"signed"`) {
		t.Fatalf("vehicle JSON without signing=signed: %s", body)
	}
	if _, body := rawCall(t, http.MethodGet, base+"/metrics", "", ""); !strings.Contains(body, `burgut_mavlink_signing_rejected_total{`) {
		t.Fatal("/metrics lacks burgut_mavlink_signing_rejected_total")
	}
	if _, body := rawCall(t, http.MethodGet, base+"/api/v1/health", "", ""); !strings.Contains(body, `"mavlink_signing"`) {
		t.Fatalf("health lacks the signing drops: %s", body)
	}

	// The key file holds it, readable by the owner only.
	kf := filepath.Join(a.Config.DataDir, groundstation.SigningKeyFileName)
	fi, err := os.Stat(kf)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(kf); !strings.Contains(string(b), keyHex) {
		t.Fatal("the key file does not hold the key")
	}

	code, resp = rawCall(t, http.MethodDelete, url, "", "")
	if code != http.StatusOK || !strings.Contains(resp, `"state":"unsigned"`) {
		t.Fatalf("DELETE: %d %s", code, resp)
	}
	testenv.Eventually(t, 10*time.Second, "vehicle unsigned again", func() bool {
		v, _ := a.Fleet.Get(id)
		return v.Signing == groundstation.SigningUnsigned
	})

	// The audit log records the calls but neither the key nor its digest.
	b, err := os.ReadFile(audit.Path(a.Config.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToLower(string(b)), keyHex) {
		t.Fatal("the audit log holds the signing key")
	}
	if !strings.Contains(string(b), "/signing") {
		t.Fatal("the signing calls are not in the audit log")
	}
}
