// Package missions turns an event area (a concert, a marathon, a holiday on
// a square) into per-drone patrol missions, geofences and rally points, and
// checks them before anything reaches an aircraft.
//
// The flow is:
//
//	ImportGeoJSON  the GIS team's FeatureCollection → *Area (validated; errors name feature, ring and vertex)
//	PlanArea       *Area + PlanOptions → []*DronePlan (perimeter, sweep, loop or corridor pattern,
//	               the area split among N drones, each with its own fence and altitude layer)
//	Check          the independent safety net: every leg sampled along its length against the
//	               area, the no-fly zones, the drone's fence, the altitude band, the item limit,
//	               the battery and the separation between drones
//	Plan           the file-level form (mission + fence + rally + planned home) that reads and
//	               writes QGroundControl .plan and Mission Planner .waypoints files
//
// All metric work happens in a local equirectangular projection around the
// area (see projection); geometry types come from orb, and polygon boolean
// operations (splitting an area among drones, building fences) from
// simplefeatures. Nothing here opens sockets or starts goroutines: the HTTP
// API lives in missions/missionsapi and uploads go through the ground station.
package missions
