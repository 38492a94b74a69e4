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
// Identity rules (see the package doc): a vehicle is first known as
// (link, system ID, component ID) and published as "<link>-<sysid>" (plus
// "-<compid>" when the autopilot is not component 1). When AUTOPILOT_VERSION
// gives a UID before the vehicle is published, a UID seen before brings
// back the ID it had then, on whichever link it now appears; a new UID takes
// the link-derived ID (suffixed with the UID when another UID already owns
// that ID). The UID→ID map is saved to IdentityFile.
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

// resolve picks the ID for a record about to be published.
func (r *registry) resolve(base string, uid uint64) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if uid == 0 {
		return base
	}
	if id, ok := r.uidToID[uid]; ok {
		return id
	}
	id := base
	if owner, ok := r.idToUID[id]; ok && owner != uid {
		id = fmt.Sprintf("%s-%x", base, uid)
	}
	r.uidToID[uid] = id
	r.idToUID[id] = uid
	r.dirty = true
	return id
}

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
