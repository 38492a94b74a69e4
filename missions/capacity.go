package missions

import (
	"fmt"

	"github.com/burgut-uav/burgut/internal/apparam"
	"github.com/burgut-uav/burgut/internal/mavitem"
)

// Capacity is what one vehicle can store: the planner simplifies
// boundaries until each drone's mission and fence fit, and the checker
// refuses a plan that does not, instead of the vehicle answering
// MAV_MISSION_NO_SPACE halfway through an upload.
//
// ArduPilot has no message that states its capacity. Its fence storage is
// a fixed area of the board's storage (AC_PolyFence_loader) unless
// BRD_SD_FENCE moves it to the SD card, and the mission's likewise
// (AP_Mission, BRD_SD_MISSION); FENCE_TOTAL and MIS_TOTAL only count what
// is stored. CapacityFromParams reads what the parameters do reveal; the
// rest comes from these fields, whose zero values take the defaults below.
type Capacity struct {
	// MissionItems is the mission length the vehicle accepts, home (seq 0)
	// included. Default DefaultMissionItems.
	MissionItems int `json:"mission_items"`
	// FenceItems is the largest fence MISSION_COUNT the vehicle accepts.
	// Default DefaultFenceItems.
	FenceItems int `json:"fence_items"`
	// FenceBytes is the fence storage in bytes, counted as ArduPilot
	// stores a fence (FenceStorageBytes). Default DefaultFenceBytes.
	FenceBytes int `json:"fence_bytes"`
}

// Defaults: ArduCopter on a board with 16 KB or more of storage (Pixhawk
// class, and SITL). Its copter storage layout gives the fence 48+256+256 =
// 560 bytes; AC_PolyFence_loader accepts at most min(255, bytes/8) = 70
// items. The mission default is the planner's long-standing 700 items.
const (
	DefaultMissionItems = 700
	DefaultFenceItems   = 70
	DefaultFenceBytes   = 560
	// MaxPolygonVertices is the most vertices one fence polygon can have:
	// ArduPilot stores the count in one byte.
	MaxPolygonVertices = 255
)

// Limits on what a Capacity may say; beyond them the number is wrong.
const (
	maxCapacityMissionItems = 65535
	maxCapacityFenceBytes   = 65535 // ArduPilot's storage offsets are 16-bit
)

// WithDefaults returns c with every zero field replaced by its default.
func (c Capacity) WithDefaults() Capacity {
	if c.MissionItems == 0 {
		c.MissionItems = DefaultMissionItems
	}
	if c.FenceItems == 0 {
		c.FenceItems = DefaultFenceItems
	}
	if c.FenceBytes == 0 {
		c.FenceBytes = DefaultFenceBytes
	}
	return c
}

// Validate names the first field out of range (after defaults).
func (c Capacity) Validate() error {
	if c.MissionItems < 3 || c.MissionItems > maxCapacityMissionItems {
		return fmt.Errorf("capacity.mission_items %d: want 3–%d (home, takeoff and one waypoint at least)", c.MissionItems, maxCapacityMissionItems)
	}
	if c.FenceItems < 3 || c.FenceItems > maxCapacityMissionItems {
		return fmt.Errorf("capacity.fence_items %d: want 3–%d", c.FenceItems, maxCapacityMissionItems)
	}
	if minBytes := FenceStorageBytes(3, 1, 0, 0); c.FenceBytes < minBytes || c.FenceBytes > maxCapacityFenceBytes {
		return fmt.Errorf("capacity.fence_bytes %d: want %d–%d (one triangle at least)", c.FenceBytes, minBytes, maxCapacityFenceBytes)
	}
	return nil
}

// Min returns the capacity every one of c and d can hold.
func (c Capacity) Min(d Capacity) Capacity {
	c, d = c.WithDefaults(), d.WithDefaults()
	return Capacity{MissionItems: min(c.MissionItems, d.MissionItems), FenceItems: min(c.FenceItems, d.FenceItems), FenceBytes: min(c.FenceBytes, d.FenceBytes)}
}

// FenceStorageBytes is what ArduPilot's AC_PolyFence_loader needs to store
// a fence: a 4-byte header, per polygon one type and one count byte plus 8
// bytes per vertex, 13 bytes per circle (type, lat, lon, radius), 9 per
// return point, and the end-of-storage byte.
func FenceStorageBytes(vertices, polygons, circles, returnPoints int) int {
	return 4 + 2*polygons + 8*vertices + 13*circles + 9*returnPoints + 1
}

// FenceUsage is how much of a vehicle's fence storage a fence takes.
type FenceUsage struct {
	Items, Bytes, Polygons, Circles int
	LargestPolygon                  int // vertices
}

// FenceUsageOf counts a fence's items the way the vehicle stores them.
// Items it cannot group (a polygon shorter than its count) count as
// single vertices; Check reports them separately.
func FenceUsageOf(items []mavitem.Item) FenceUsage {
	u := FenceUsage{Items: len(items)}
	vertices, returns := 0, 0
	for i := 0; i < len(items); {
		it := items[i]
		switch it.Command {
		case mavitem.CmdFencePolyInclusion, mavitem.CmdFencePolyExclusion:
			n := int(it.Param1)
			if n < 1 || i+n > len(items) {
				n = 1
			}
			u.Polygons++
			vertices += n
			u.LargestPolygon = max(u.LargestPolygon, n)
			i += n
			continue
		case mavitem.CmdFenceCircleInclusion, mavitem.CmdFenceCircleExclusion:
			u.Circles++
		case cmdFenceReturnPoint:
			returns++
		}
		i++
	}
	u.Bytes = FenceStorageBytes(vertices, u.Polygons, u.Circles, returns)
	return u
}

// cmdFenceReturnPoint is MAV_CMD_NAV_FENCE_RETURN_POINT.
const cmdFenceReturnPoint uint16 = 5000

// fits reports whether the usage fits c, and if not, why.
func (u FenceUsage) fits(c Capacity) (bool, string) {
	switch {
	case u.Items > c.FenceItems:
		return false, fmt.Sprintf("%d fence items, the vehicle holds %d", u.Items, c.FenceItems)
	case u.Bytes > c.FenceBytes:
		return false, fmt.Sprintf("the fence needs %d bytes of fence storage, the vehicle has %d", u.Bytes, c.FenceBytes)
	case u.LargestPolygon > MaxPolygonVertices:
		return false, fmt.Sprintf("a fence polygon has %d vertices, ArduPilot stores at most %d per polygon", u.LargestPolygon, MaxPolygonVertices)
	}
	return true, ""
}

// Fits reports whether a mission (home included) and a fence fit c (zero
// fields: defaults), and if not, why, naming the capacity — what an
// assignment checks against the vehicle it goes to.
func (c Capacity) Fits(mission, fence []mavitem.Item) (bool, string) {
	c = c.WithDefaults()
	if len(mission) > c.MissionItems {
		return false, fmt.Sprintf("%d mission items (with home), the vehicle holds %d", len(mission), c.MissionItems)
	}
	return FenceUsageOf(fence).fits(c)
}

// fenceVertexBudget is how many polygon vertices a fence of the given
// polygons and circles may have in total to fit c.
func fenceVertexBudget(c Capacity, polygons, circles int) int {
	byItems := c.FenceItems - circles
	byBytes := (c.FenceBytes - FenceStorageBytes(0, polygons, circles, 0)) / 8
	return min(byItems, byBytes)
}

// Parameters that reveal an ArduPilot vehicle's storage (kB on the SD card
// that replace the board's own storage; 0 = the board's).
const (
	ParamSDFence   = "BRD_SD_FENCE"
	ParamSDMission = "BRD_SD_MISSION"
)

// CapacityFromParams derives a vehicle's capacity from its parameters
// where they tell it, and from base (defaults for zero fields) where they
// do not. get returns a parameter's value and whether the vehicle has it.
// A BRD_SD_FENCE or BRD_SD_MISSION that puts the list in an SD card file
// (apparam.SDStorageBytes: the value as ArduPilot stores it, so 0.5 is 0
// and keeps the board's storage, that is base) sizes it: the fence takes
// at most min(255, bytes/8) items, the mission (bytes − 4)/15 items
// (AP_Mission's 15-byte records after a 4-byte header).
func CapacityFromParams(base Capacity, get func(name string) (float64, bool)) Capacity {
	c := base.WithDefaults()
	if kb, ok := get(ParamSDFence); ok {
		if bytes := apparam.SDStorageBytes(kb); bytes > 0 {
			c.FenceBytes = bytes
			c.FenceItems = min(255, bytes/8)
		}
	}
	if kb, ok := get(ParamSDMission); ok {
		if bytes := apparam.SDStorageBytes(kb); bytes > 0 {
			c.MissionItems = (bytes - 4) / 15
		}
	}
	return c
}
