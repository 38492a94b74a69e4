package groundstation

import (
	"os"
	"path/filepath"
	"testing"
)

// A new UID is named after the aircraft, whatever link it is heard on; only
// a vehicle without a UID is named after its link (issue 9, defect 6).
func TestIDIndependentOfLink(t *testing.T) {
	const uid = 0x41002a3334510c
	a, _ := newRegistry("")
	b, _ := newRegistry("")
	if got := a.resolve("radio1-7", uid); got != "uav-0041002a3334510c" {
		t.Fatalf("new UID on radio1: ID %q, want uav-0041002a3334510c", got)
	}
	if got := b.resolve("lte-12", uid); got != "uav-0041002a3334510c" {
		t.Fatalf("same UID on another link of another station: ID %q, want uav-0041002a3334510c", got)
	}
	if got := a.resolve("radio1-8", 0); got != "radio1-8" {
		t.Fatalf("no UID: ID %q, want the link-derived radio1-8", got)
	}
}

// The saved UID → ID map wins over the naming rule, so IDs handed out
// before (including link-derived ones from older versions or a UID learned
// after publication) survive restarts and link changes.
func TestIdentityFileKeepsEarlierIDs(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ids.json")
	if err := os.WriteFile(file, []byte(`{"171": "udp14550-7", "1": "uav-0000000000000002"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := newRegistry(file)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.resolve("second-3", 171); got != "udp14550-7" {
		t.Errorf("UID 171 from the file: ID %q, want udp14550-7", got)
	}
	// a hand-edited file gave UID 1 the name UID 2 would get: no sharing
	if got := r.resolve("second-4", 2); got != "uav-0000000000000002-2" {
		t.Errorf("UID 2 whose name is taken: ID %q, want uav-0000000000000002-2", got)
	}
	r.learn("second-5", 99) // UID told after publication: keeps the link-derived ID
	if err := r.save(); err != nil {
		t.Fatal(err)
	}
	again, err := newRegistry(file)
	if err != nil {
		t.Fatal(err)
	}
	for uid, want := range map[uint64]string{171: "udp14550-7", 2: "uav-0000000000000002-2", 99: "second-5", 1: "uav-0000000000000002"} {
		if got := again.resolve("third-1", uid); got != want {
			t.Errorf("after restart, UID %d: ID %q, want %q", uid, got, want)
		}
	}
}
