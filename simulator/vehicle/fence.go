package vehicle

import (
	"fmt"
	"math"

	"github.com/burgut-uav/burgut/internal/apparam"
	"github.com/burgut-uav/burgut/internal/mavitem"
)

// AC_Fence type bits (FENCE_TYPE).
const (
	fenceAltMax  uint8 = 1
	fenceCircle  uint8 = 2
	fencePolygon uint8 = 4 // every item-based fence: polygons and circles
)

type fcircle struct{ n, e, r float64 }

// fenceZones is the uploaded fence compiled to the local metric frame.
type fenceZones struct {
	incl, excl   [][][2]float64
	cincl, cexcl []fcircle
	hasReturn    bool
	retN, retE   float64
}

func (z *fenceZones) empty() bool {
	return len(z.incl) == 0 && len(z.excl) == 0 && len(z.cincl) == 0 && len(z.cexcl) == 0
}

// compileFence groups polygon vertices (each vertex carries the polygon's
// vertex count in param1, consecutive items form one polygon) and converts
// everything to metres.
func (v *Vehicle) compileFence(items []mavitem.Item) (fenceZones, error) {
	var z fenceZones
	for i := 0; i < len(items); {
		it := items[i]
		lat, lon := float64(it.X)/1e7, float64(it.Y)/1e7
		n, e := v.toLocal(lat, lon)
		switch it.Command {
		case mavitem.CmdFencePolyInclusion, mavitem.CmdFencePolyExclusion:
			count := int(it.Param1)
			if i+count > len(items) {
				return z, &ItemError{Seq: uint16(i), Result: MissionInvalidParam1,
					Reason: fmt.Sprintf("polygon of %d vertices starting at item %d runs past the last item", count, i)}
			}
			poly := make([][2]float64, 0, count)
			for j := i; j < i+count; j++ {
				vj := items[j]
				if vj.Command != it.Command || int(vj.Param1) != count {
					return z, &ItemError{Seq: uint16(j), Result: MissionInvalidParam1,
						Reason: fmt.Sprintf("vertex %d of the polygon starting at item %d has command %d count %g", j-i, i, vj.Command, vj.Param1)}
				}
				pn, pe := v.toLocal(float64(vj.X)/1e7, float64(vj.Y)/1e7)
				poly = append(poly, [2]float64{pn, pe})
			}
			if it.Command == mavitem.CmdFencePolyInclusion {
				z.incl = append(z.incl, poly)
			} else {
				z.excl = append(z.excl, poly)
			}
			i += count
			continue
		case mavitem.CmdFenceCircleInclusion:
			z.cincl = append(z.cincl, fcircle{n, e, float64(it.Param1)})
		case mavitem.CmdFenceCircleExclusion:
			z.cexcl = append(z.cexcl, fcircle{n, e, float64(it.Param1)})
		case cmdFenceReturnPoint:
			z.hasReturn, z.retN, z.retE = true, n, e
		}
		i++
	}
	return z, nil
}

// pointInPolygon is the even-odd ray casting test in the local frame.
func pointInPolygon(n, e float64, poly [][2]float64) bool {
	in := false
	j := len(poly) - 1
	for i := range poly {
		ni, ei := poly[i][0], poly[i][1]
		nj, ej := poly[j][0], poly[j][1]
		if (ei > e) != (ej > e) && n < (nj-ni)*(e-ei)/(ej-ei)+ni {
			in = !in
		}
		j = i
	}
	return in
}

func (v *Vehicle) fenceEnabled() bool { return v.p.fenceEnable }

// fenceBreachesAt returns the AC_Fence type bits a position breaches.
func (v *Vehicle) fenceBreachesAt(n, e, u float64) uint8 {
	var b uint8
	t := v.p.fenceType
	if t&fenceAltMax != 0 && u-v.homeU > v.p.fenceAltMax {
		b |= fenceAltMax
	}
	if t&fenceCircle != 0 && v.homeSet && math.Hypot(n-v.homeN, e-v.homeE) > v.p.fenceRadius {
		b |= fenceCircle
	}
	if t&fencePolygon != 0 && !v.fz.empty() && v.outsideZones(n, e) {
		b |= fencePolygon
	}
	return b
}

func (v *Vehicle) outsideZones(n, e float64) bool {
	for _, p := range v.fz.incl {
		if !pointInPolygon(n, e, p) {
			return true
		}
	}
	for _, p := range v.fz.excl {
		if pointInPolygon(n, e, p) {
			return true
		}
	}
	for _, c := range v.fz.cincl {
		if math.Hypot(n-c.n, e-c.e) > c.r {
			return true
		}
	}
	for _, c := range v.fz.cexcl {
		if math.Hypot(n-c.n, e-c.e) < c.r {
			return true
		}
	}
	return false
}

// fenceNames is AC_Fence::get_fence_names ("Max Alt and Circle fences").
func fenceNames(b uint8) string {
	names := []string{"Max Alt", "Circle", "Polygon"}
	var parts []string
	for i, n := range names {
		if b&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	s := ""
	for i, p := range parts {
		switch {
		case i == 0:
		case i == len(parts)-1:
			s += " and "
		default:
			s += ", "
		}
		s += p
	}
	if len(parts) > 1 {
		return s + " fences"
	}
	return s + " fence"
}

// fenceCheck is Copter::fence_check at 10 Hz: record new breaches and clear
// old ones, and on a new breach while armed take FENCE_ACTION.
func (v *Vehicle) fenceCheck() {
	if !v.fenceEnabled() {
		v.fenceBreaches = 0
		return
	}
	now := v.fenceBreachesAt(v.n, v.e, v.up)
	// A breach clears once back inside (altitude by FENCE_MARGIN).
	cleared := v.fenceBreaches &^ now
	if cleared&fenceAltMax != 0 && v.up-v.homeU > v.p.fenceAltMax-v.p.fenceMargin {
		cleared &^= fenceAltMax
	}
	if cleared != 0 {
		v.fenceBreaches &^= cleared
		v.statusText(SeverityNotice, fenceNames(cleared)+" breach cleared")
	}
	newB := now &^ v.fenceBreaches
	if newB == 0 {
		return
	}
	v.fenceBreaches |= newB
	v.fenceBreachCount++
	v.fenceBreachTime = v.now
	if !v.armed {
		return
	}
	if !v.landed {
		v.emit(EventFenceBreach, SeverityNotice, fenceNames(newB)+" breached", 0)
	} else {
		v.emit(EventFenceBreach, SeverityNotice, "", 0)
	}
	if v.p.fenceAction == 0 { // report only
		return
	}
	if v.landed {
		v.disarm("Disarming motors", SeverityInfo)
		return
	}
	switch v.p.fenceAction {
	case 2: // always land
		v.failsafeMode(ModeLand)
	case 4: // brake or land
		if r, _ := v.changeMode(ModeBrake, true); r != ResultAccepted {
			v.failsafeMode(ModeLand)
		}
	default: // 1, 3, 5: RTL (SmartRTL falls back to RTL here), land if too far out
		if v.breachDistance(newB) > 100 {
			v.failsafeMode(ModeLand)
		} else {
			v.failsafeMode(ModeRTL)
		}
	}
}

// breachDistance approximates AC_Fence::get_breach_distance for the
// give-up rule (more than 100 m outside → LAND).
func (v *Vehicle) breachDistance(b uint8) float64 {
	d := 0.0
	if b&fenceAltMax != 0 {
		d = math.Max(d, v.up-v.homeU-v.p.fenceAltMax)
	}
	if b&fenceCircle != 0 {
		d = math.Max(d, math.Hypot(v.n-v.homeN, v.e-v.homeE)-v.p.fenceRadius)
	}
	return d
}

// failsafeMode switches to RTL (or the given mode), falling back to LAND
// as ArduCopter's set_mode_RTL_or_land_with_pause does.
func (v *Vehicle) failsafeMode(m uint32) {
	if m == ModeRTL && v.mode == ModeLand {
		return // a landing is never turned back into an RTL
	}
	if r, _ := v.changeMode(m, true); r != ResultAccepted && m != ModeLand {
		v.changeMode(ModeLand, true)
	}
}

// Fence storage as ArduCopter has it. AC_PolyFence_loader keeps the fence
// in the StorageFence areas of the board's storage: 48+256+256 = 560 bytes
// in the copter layout of a board with 16 KB or more (Pixhawk class and
// SITL); BRD_SD_FENCE = k > 0 moves it to a k kB file on the SD card. It
// takes at most min(255, bytes/8) items (MISSION_COUNT beyond that is
// answered MAV_MISSION_NO_SPACE) and refuses a fence whose records do not
// fit the bytes ("Fence exceeds storage size"): a 4-byte header, per
// polygon a type and a count byte plus 8 bytes per vertex, 13 bytes per
// circle, 9 per return point, and the end-of-storage byte.
const (
	fenceStorageBytes = 560
	// FenceStorageText is ArduPilot's STATUSTEXT for a fence too large
	// for its storage; SetFence's error reason starts with it.
	FenceStorageText = "Fence exceeds storage size"
)

// FenceCapacity is how many fence items the vehicle accepts and how many
// bytes of fence storage it has.
func (v *Vehicle) FenceCapacity() (items, bytes int) {
	bytes = fenceStorageBytes
	if sd := apparam.SDStorageBytes(v.pv("BRD_SD_FENCE")); sd > 0 {
		bytes = sd
	}
	return min(MaxFenceItems, bytes/8), bytes
}

// fenceStorageNeeded is what a fence's records take in ArduPilot's fence
// storage (see FenceCapacity).
func fenceStorageNeeded(items []mavitem.Item) int {
	n := 4 + 1 // header, end-of-storage
	for i := 0; i < len(items); {
		switch it := items[i]; it.Command {
		case mavitem.CmdFencePolyInclusion, mavitem.CmdFencePolyExclusion:
			count := max(int(it.Param1), 1)
			n += 2 + 8*count
			i += count
			continue
		case mavitem.CmdFenceCircleInclusion, mavitem.CmdFenceCircleExclusion:
			n += 13
		case cmdFenceReturnPoint:
			n += 9
		}
		i++
	}
	return n
}
