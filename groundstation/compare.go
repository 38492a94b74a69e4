package groundstation

import "github.com/burgut-uav/burgut/internal/mavitem"

// SameItems compares a list the station would upload (want) with what a
// vehicle holds (got, from Download) under the tolerances of an upload's
// own verification (see sameItems) and describes the first difference
// ("" = the vehicle holds that list). The operations scheduler uses it to
// decide whether a relaunch must upload again.
func SameItems(t mavitem.MissionType, want, got []mavitem.Item) string {
	return sameItems(t, want, got)
}
