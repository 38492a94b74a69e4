package missionsapi

import "github.com/burgut-uav/burgut/missions"

// AddArea stores an area as if it had been POSTed, so areas that Burgut
// builds itself (the demo's event area) show on the map and in the API.
// src is the area's GeoJSON, kept for persistence and downloads.
func (s *Store) AddArea(a *missions.Area, src []byte) (string, error) {
	return s.addArea(a, src)
}

// Area returns a stored area (for the operations API).
func (s *Store) Area(id string) (*missions.Area, bool) { return s.area(id) }
