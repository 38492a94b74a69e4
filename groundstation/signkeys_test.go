package groundstation

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestKeyStorePersistsWithOwnerOnlyMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing-keys.json")
	ks, err := openKeyStore(path, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	if err := ks.set("uav-1", storedKey{key: testKey(1), setAt: at, link: "udp14550", sys: 7}); err != nil {
		t.Fatal(err)
	}
	if err := ks.set("uav-2", storedKey{key: testKey(2), setAt: at}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	if err := ks.remove("uav-2"); err != nil {
		t.Fatal(err)
	}
	again, err := openKeyStore(path, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	got, ok := again.get("uav-1")
	if !ok || got.key != testKey(1) || got.link != "udp14550" || got.sys != 7 || !got.setAt.Equal(at) {
		t.Fatalf("reopened: %+v %v", got, ok)
	}
	if _, ok := again.get("uav-2"); ok {
		t.Fatal("a removed key came back")
	}
	// No temporary files left behind.
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Fatalf("directory holds %d entries, want only the key file", len(ents))
	}
}

func TestKeyStoreTightensModeAndRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	loose := filepath.Join(dir, "loose.json")
	if err := os.WriteFile(loose, []byte(`{"version":1,"vehicles":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := openKeyStore(loose, testLog(t)); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(loose); fi.Mode().Perm() != 0o600 {
		t.Fatalf("loose key file left at %v", fi.Mode().Perm())
	}
	for name, body := range map[string]string{
		"garbage.json": "not json",
		"short.json":   `{"version":1,"vehicles":{"uav-1":{"key":"abcd"}}}`,
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := openKeyStore(p, testLog(t))
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v, want one naming the file", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "abcd") {
			t.Errorf("%s: error repeats key material: %v", name, err)
		}
	}
}
