package groundstation

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/burgut-uav/burgut/internal/linkspec"
)

// registry maps published vehicle IDs to their records and remembers which
// autopilot UID owns which ID. It is shared by every link's dispatcher.
//
// Identity rules (see the package doc): a vehicle whose AUTOPILOT_VERSION
// gives a UID before it is published is named after the aircraft, not the
// radio: the ID that UID had before (IdentityFile keeps the map across
// restarts), else "uav-<uid as 16 hex digits>". Only a vehicle that never
// told its UID is named after where it was heard, "<link>-<sysid>" (plus
// "-<compid>" when the autopilot is not component 1); if its UID arrives
// later, that ID is remembered for the UID so the aircraft keeps it.
type registry struct {
	mu      sync.RWMutex
	byID    map[string]*vehicleRec
	uidToID map[uint64]string
	idToUID map[string]uint64
	dirty   bool
	file    string
}

func newRegistry(file string) (*registry, error) {
	r := &registry{
		byID:    make(map[string]*vehicleRec),
		uidToID: make(map[uint64]string),
		idToUID: make(map[string]uint64),
		file:    file,
	}
	if file == "" {
		return r, nil
	}
	data, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read vehicle identity file: %w", err)
	}
	var saved map[string]string // uid (decimal) → id
	if err := json.Unmarshal(data, &saved); err != nil {
		return nil, fmt.Errorf("vehicle identity file %s: not a JSON object of uid → id: %w", file, err)
	}
	for k, id := range saved {
		uid, err := strconv.ParseUint(k, 10, 64)
		if err != nil || uid == 0 || id == "" || !linkspec.ValidName(id) {
			return nil, fmt.Errorf("vehicle identity file %s: entry %q → %q: want a decimal UID and a URL-safe ID", file, k, id)
		}
		r.uidToID[uid] = id
		r.idToUID[id] = uid
	}
	return r, nil
}

// resolve picks the ID for a record about to be published; base is the
// link-derived ID used when uid is 0 (unknown).
func (r *registry) resolve(base string, uid uint64) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if uid == 0 {
		return base
	}
	if id, ok := r.uidToID[uid]; ok {
		return id
	}
	id := uidID(uid)
	for n := 2; ; n++ { // only a hand-edited identity file can have taken it
		if _, taken := r.idToUID[id]; !taken {
			break
		}
		id = fmt.Sprintf("%s-%d", uidID(uid), n)
	}
	r.uidToID[uid] = id
	r.idToUID[id] = uid
	r.dirty = true
	return id
}

// uidID is the ID of an aircraft first heard with a known UID. It does not
// depend on the link, so a fleet that moves between radios keeps its IDs
// even without the identity file; the fixed width keeps it from colliding
// with a link-derived "<link>-<sysid>" of a link named "uav".
func uidID(uid uint64) string { return fmt.Sprintf("uav-%016x", uid) }

// learn records a UID that arrived after its vehicle was published, so the
// aircraft gets the same ID next time, unless the ID already has a UID.
func (r *registry) learn(id string, uid uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.uidToID[uid]; ok {
		return
	}
	if _, ok := r.idToUID[id]; ok {
		return
	}
	r.uidToID[uid] = id
	r.idToUID[id] = uid
	r.dirty = true
}

func (r *registry) put(id string, rec *vehicleRec) {
	r.mu.Lock()
	r.byID[id] = rec
	r.mu.Unlock()
}

func (r *registry) get(id string) *vehicleRec {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.byID[id]
}

func (r *registry) all() []*vehicleRec {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*vehicleRec, 0, len(r.byID))
	for _, rec := range r.byID {
		out = append(out, rec)
	}
	return out
}

// save writes the UID map if it changed (atomically: temp file + rename).
func (r *registry) save() error {
	r.mu.Lock()
	if !r.dirty || r.file == "" {
		r.mu.Unlock()
		return nil
	}
	out := make(map[string]string, len(r.uidToID))
	for uid, id := range r.uidToID {
		out[strconv.FormatUint(uid, 10)] = id
	}
	r.dirty = false
	r.mu.Unlock()
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(r.file), 0o755); err != nil {
		return fmt.Errorf("save vehicle identities: %w", err)
	}
	tmp := r.file + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("save vehicle identities: %w", err)
	}
	if err := os.Rename(tmp, r.file); err != nil {
		return fmt.Errorf("save vehicle identities: %w", err)
	}
	return nil
}
