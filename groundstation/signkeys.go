package groundstation

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/burgut-uav/burgut/internal/mavsign"
)

// SigningKeyFileName is the key file's name in the station's data dir.
const SigningKeyFileName = "signing-keys.json"

// StoredSigningKey describes one stored key without the key: what
// `burgut signing list` prints.
type StoredSigningKey struct {
	VehicleID   string    `json:"vehicle_id"`
	Fingerprint string    `json:"fingerprint"`
	SetAt       time.Time `json:"set_at"`
	Link        string    `json:"link,omitempty"`
	SystemID    uint8     `json:"system_id,omitempty"`
}

// ListSigningKeys reads a key file (as the running station writes it) and
// describes its keys by fingerprint, sorted by vehicle ID. A missing file
// lists nothing.
func ListSigningKeys(path string) ([]StoredSigningKey, error) {
	ks, err := openKeyStore(path, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	var out []StoredSigningKey
	for id, k := range ks.all() {
		out = append(out, StoredSigningKey{VehicleID: id, Fingerprint: k.key.Fingerprint(), SetAt: k.setAt, Link: k.link, SystemID: k.sys})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].VehicleID < out[j].VehicleID })
	return out, nil
}

// keyStore keeps the per-vehicle MAVLink signing keys in one JSON file
// readable by its owner only (mode 0600), next to the station's other
// state. The file is the only place keys are written: the API returns
// fingerprints, logs print fingerprints (mavsign.Key's String/LogValue).
// Every change rewrites the file atomically (temporary file, fsync,
// rename), so a crash leaves the old or the new set, never half of one.
type keyStore struct {
	path string // "" = memory only
	mu   sync.Mutex
	m    map[string]storedKey
}

// storedKey is one vehicle's key and where the vehicle was last keyed: the
// link and system ID let the station check frames claiming that system
// from its first frame after a restart, before the vehicle's ID is known.
type storedKey struct {
	key   mavsign.Key
	setAt time.Time
	link  string
	sys   uint8
}

type keyFile struct {
	Version  int                 `json:"version"`
	Vehicles map[string]keyEntry `json:"vehicles"`
}

type keyEntry struct {
	Key      string    `json:"key"` // 64 hex digits
	SetAt    time.Time `json:"set_at"`
	Link     string    `json:"link,omitempty"`
	SystemID uint8     `json:"system_id,omitempty"`
}

// openKeyStore reads path (a missing file is an empty store). A file
// others may read is tightened to 0600 with a warning.
func openKeyStore(path string, log *slog.Logger) (*keyStore, error) {
	ks := &keyStore{path: path, m: map[string]storedKey{}}
	if path == "" {
		return ks, nil
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ks, nil
	}
	if err != nil {
		return nil, fmt.Errorf("signing key file %s: %w", path, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		log.Warn("signing key file was readable by others: mode set to 0600", "path", path, "mode", fi.Mode().Perm().String())
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, fmt.Errorf("signing key file %s: restrict to 0600: %w", path, err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing key file %s: %w", path, err)
	}
	var f keyFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("signing key file %s: not valid JSON: %w", path, err)
	}
	for id, e := range f.Vehicles {
		k, err := mavsign.ParseKey(e.Key)
		if err != nil {
			return nil, fmt.Errorf("signing key file %s: vehicle %q: %w", path, id, err)
		}
		ks.m[id] = storedKey{key: k, setAt: e.SetAt, link: e.Link, sys: e.SystemID}
	}
	return ks, nil
}

func (ks *keyStore) get(id string) (storedKey, bool) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	k, ok := ks.m[id]
	return k, ok
}

// all returns the stored keys by vehicle ID (a copy).
func (ks *keyStore) all() map[string]storedKey {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	out := make(map[string]storedKey, len(ks.m))
	for id, k := range ks.m {
		out[id] = k
	}
	return out
}

// set stores (or replaces) a vehicle's key and writes the file; on a write
// error the store is unchanged.
func (ks *keyStore) set(id string, k storedKey) error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	old, had := ks.m[id]
	ks.m[id] = k
	if err := ks.saveLocked(); err != nil {
		if had {
			ks.m[id] = old
		} else {
			delete(ks.m, id)
		}
		return err
	}
	return nil
}

// remove deletes a vehicle's key and writes the file.
func (ks *keyStore) remove(id string) error {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	old, had := ks.m[id]
	if !had {
		return nil
	}
	delete(ks.m, id)
	if err := ks.saveLocked(); err != nil {
		ks.m[id] = old
		return err
	}
	return nil
}

func (ks *keyStore) saveLocked() error {
	if ks.path == "" {
		return nil
	}
	f := keyFile{Version: 1, Vehicles: make(map[string]keyEntry, len(ks.m))}
	ids := make([]string, 0, len(ks.m))
	for id := range ks.m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		k := ks.m[id]
		f.Vehicles[id] = keyEntry{Key: k.key.Hex(), SetAt: k.setAt, Link: k.link, SystemID: k.sys}
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("signing key file: encode: %w", err)
	}
	dir := filepath.Dir(ks.path)
	tmp, err := os.CreateTemp(dir, ".signing-keys-*")
	if err != nil {
		return fmt.Errorf("signing key file %s: %w", ks.path, err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("signing key file %s: %w", ks.path, err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("signing key file %s: write: %w", ks.path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("signing key file %s: fsync: %w", ks.path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("signing key file %s: %w", ks.path, err)
	}
	if err := os.Rename(tmp.Name(), ks.path); err != nil {
		return fmt.Errorf("signing key file %s: %w", ks.path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // the rename itself durable; best effort where directories cannot be synced
		d.Close()
	}
	return nil
}
