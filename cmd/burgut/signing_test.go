package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/burgut-uav/burgut/groundstation"
	"github.com/burgut-uav/burgut/internal/mavsign"
)

func TestSigningListShowsFingerprintsOnly(t *testing.T) {
	dir := t.TempDir()
	if out, _, code := runBurgut(t, "signing", "list", "--data-dir", dir); code != 0 || !strings.Contains(out, "no signing keys") {
		t.Fatalf("empty data dir: code %d, %q", code, out)
	}
	var k mavsign.Key
	for i := range k {
		k[i] = byte(200 - i)
	}
	body := `{"version":1,"vehicles":{"uav-0041002a3334510c":{"key":"` + k.Hex() + `","set_at":"2026-12-01T10:00:00Z","link":"udp14550","system_id":7}}}`
	path := filepath.Join(dir, groundstation.SigningKeyFileName)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runBurgut(t, "signing", "list", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "uav-0041002a3334510c") || !strings.Contains(out, k.Fingerprint()) || !strings.Contains(out, "udp14550/7") {
		t.Fatalf("list: code %d, stdout %q, stderr %q", code, out, errOut)
	}
	if strings.Contains(out+errOut, k.Hex()) {
		t.Fatal("signing list printed the key")
	}
	if err := os.WriteFile(path, []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runBurgut(t, "signing", "list", "--data-dir", dir); code != 1 || !strings.Contains(errOut, path) {
		t.Fatalf("broken key file: code %d, stderr %q (want 1 naming the file)", code, errOut)
	}
	if _, _, code := runBurgut(t, "signing", "bogus"); code != 2 {
		t.Fatalf("unknown action: code %d, want 2", code)
	}
}
