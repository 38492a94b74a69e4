// Package vehicle is the pure-Go model of one ArduCopter-like multicopter
// and its autopilot, which the simulator's MAVLink layer (package
// simulator, `burgut sitl`) drives.
//
// There are no sockets, goroutines or wall clock here: the owner calls
// Step with simulated time, so a vehicle runs in real time, faster than
// real time, or stepped by a test, and two vehicles built from the same
// Config and given the same calls stay bit-for-bit identical. A Vehicle is
// not safe for concurrent use; its owner serialises all calls.
//
// # Using it
//
//	v := vehicle.New(vehicle.Config{SystemID: 1, Home: vehicle.LatLonAlt{Lat: 41.31, Lon: 69.27, AltMSL: 450}, Seed: 1})
//	v.Step(3 * time.Second)            // GPS warm-up: fix and home after DefaultGPSWarmup
//	v.SetMode(vehicle.ModeGuided)
//	v.Arm(false)                       // (MAV_RESULT, PreArm text when refused)
//	v.Takeoff(10)
//	for … { v.Step(20 * time.Millisecond); s := v.State(); ev := v.DrainEvents() … }
//
// Commands return a MAV_RESULT and, when refused, the text ArduCopter
// prints (empty where it prints nothing); the caller sends that text as a
// STATUSTEXT. Everything else the vehicle says comes out of DrainEvents: a
// STATUSTEXT for every event with a Text, plus MISSION_ITEM_REACHED,
// MISSION_CURRENT, HOME_POSITION and prompt HEARTBEATs by kind. Uploaded
// lists go through SetMission/SetFence/SetRally whole, after the transfer;
// refusals are *ItemError values carrying the MISSION_ACK result.
//
// # The model
//
//   - Kinematics: a point mass under ArduPilot-style position control
//     (sqrt controller, PSC_POSXY_P/PSC_POSZ_P) with limits from the
//     parameters: horizontal speed WPNAV_SPEED (DO_CHANGE_SPEED overrides it
//     until the next mode change), acceleration WPNAV_ACCEL / WPNAV_ACCEL_Z,
//     climb WPNAV_SPEED_UP, descent WPNAV_SPEED_DN, landing LAND_SPEED below
//     LAND_ALT_LOW, yaw slew ATC_SLEW_YAW (the nose follows the direction of
//     travel), tilt ANGLE_MAX. Roll and pitch follow the force the rotors
//     must make (acceleration plus drag of the airspeed), throttle follows
//     MOT_THST_HOVER. Fixed 20 ms integration step; Step carries any
//     remainder, so how a caller slices time does not change the result.
//   - Terrain is flat at Config.Home.AltMSL. Ground contact stops the
//     vehicle; touching down faster than 3 m/s is a crash (failed, disarmed).
//   - Wind: steady SIM_WIND_SPD from SIM_WIND_DIR plus random half-sine
//     gusts up to SIM_WIND_TURB (seeded), plus InjectGust. The velocity
//     controller learns the steady wind (τ 2 s), so position hold is
//     exact in steady wind and gusts push the vehicle off and back.
//   - GPS: no fix for DefaultGPSWarmup (Config.GPSWarmup), then a 3D fix
//     with 10–16 satellites, HDOP 0.6–1.2 and a Gauss-Markov position error
//     (τ 30 s, ~0.5 m) plus white noise at 5 Hz. Loss (InjectGPSLoss,
//     SIM_GPS_DISABLE) drops to NO_FIX; the position estimate then drifts with
//     uncorrected wind.
//   - Battery: 3S LiPo with an open-circuit voltage curve against charge, a
//     25 mΩ pack resistance (sag under load) and a current of ~12 A in hover
//     that rises with climb rate and the square of airspeed; 1.5 A armed at
//     idle, 0 disarmed. Capacity BATT_CAPACITY (default 5000 mAh ≈ 20 min).
//     An empty pack stops the motors.
//
// # ArduCopter behaviour reproduced
//
//   - Modes by ArduCopter number: STABILIZE 0, ACRO 1, ALT_HOLD 2 (no pilot:
//     sticks centred, so altitude held and the vehicle drifts with the wind),
//     AUTO 3, GUIDED 4, LOITER 5, RTL 6, CIRCLE 7 (CIRCLE_RADIUS/RATE), LAND 9,
//     POSHOLD 16, BRAKE 17, SMART_RTL 21 (flies as RTL). Position modes refuse
//     without a fix ("Mode change to LOITER failed: requires position"); other
//     numbers give "No such mode N".
//   - HEARTBEAT fields through State: system_status STANDBY on the ground
//     (also armed), ACTIVE flying, CRITICAL in any failsafe, EMERGENCY when
//     failed; State.BaseMode gives base_mode as ArduCopter fills it.
//     EXTENDED_SYS_STATE landed state ON_GROUND/TAKEOFF/IN_AIR/LANDING.
//     SYS_STATUS sensor bits as a real 4.7 SITL reports them, with GPS,
//     geofence, battery and pre-arm health following the model.
//   - Arming: refused in RTL/LAND/CIRCLE/BRAKE/SMART_RTL and in AUTO unless
//     AUTO_OPTIONS bit 0 ("Arm: AUTO mode not armable"); pre-arm checks (when
//     ARMING_CHECK ≠ 0): GPS fix, HDOP vs GPS_HDOP_GOOD, home, battery
//     failsafe, low/critical voltage and capacity, BATT_ARM_VOLT/MAH, inside
//     an enabled fence. Refusals are MAV_RESULT_FAILED, the PreArm/Arm text
//     following the COMMAND_ACK in a STATUSTEXT as ArduPilot sends it.
//     Arming moves home to the current position ("Arming motors"). Disarm in
//     flight needs force (then the vehicle falls). Landed and idle for
//     DISARM_DELAY seconds: auto-disarm.
//   - Takeoff in GUIDED/LOITER/ALT_HOLD/POSHOLD; GUIDED position targets
//     (DENIED outside GUIDED or outside an enabled fence; on the ground the
//     target waits for a takeoff, as in ArduCopter).
//   - AUTO missions: NAV_TAKEOFF, NAV_WAYPOINT (hold param1 s, acceptance
//     radius param2 or WPNAV_RADIUS, lat/lon 0 = here, alt 0 = current),
//     NAV_LOITER_TIME, NAV_LOITER_UNLIM, NAV_RETURN_TO_LAUNCH, NAV_LAND,
//     NAV_DELAY, NAV_LOITER_TURNS (as a hold of the turns' duration),
//     DO_CHANGE_SPEED, DO_JUMP (repeat count; −1 for ever),
//     DO_SET_HOME, DO_FENCE_ENABLE; other known DO/CONDITION commands are
//     stored and skipped. "Mission: N Type" and "Reached command #N" texts,
//     MISSION_CURRENT and MISSION_ITEM_REACHED events. Leaving AUTO pauses
//     the mission, re-entering resumes it (MIS_RESTART 0); at the end the
//     vehicle loiters in AUTO, or disarms if it landed. Seq 0 is home and
//     downloads as the current home; items are stored as ArduPilot stores
//     them (altitude in cm, frame GLOBAL for commands without a position).
//   - RTL: climb to RTL_ALT or a higher rally point's altitude (or stay
//     higher; RTL_CLIMB_MIN; lowered near the target by RTL_CONE_SLOPE;
//     capped below FENCE_ALT_MAX),
//     fly home or to the nearest rally point (RALLY_LIMIT_KM,
//     RALLY_INCL_HOME) at RTL_SPEED or WPNAV_SPEED, loiter RTL_LOIT_TIME, land
//     (or hold RTL_ALT_FINAL), disarm. LAND: descend where it is, disarm on
//     the land detector (1 s on the ground).
//   - Geofence: inclusion/exclusion polygons and circles from the fence items,
//     FENCE_RADIUS around home, FENCE_ALT_MAX, selected by FENCE_TYPE, on with
//     FENCE_ENABLE, checked at 10 Hz. A new breach while armed prints
//     "Polygon fence breached" (AC_Fence's wording) and takes FENCE_ACTION:
//     RTL (LAND when more than 100 m out), LAND, BRAKE; on the ground it
//     disarms. State carries FENCE_STATUS (breached, type, count, time).
//     The fence is stored as ArduCopter stores it (FenceCapacity): 560 bytes,
//     at most 70 items, or BRD_SD_FENCE kB "on the SD card" (at most 255);
//     SetFence refuses a fence whose records do not fit.
//   - Battery failsafe: BATT_LOW_VOLT / BATT_CRT_VOLT for BATT_LOW_TIMER s or
//     BATT_LOW_MAH / BATT_CRT_MAH → "Battery 1 is low 10.31V used 4520 mAh"
//     and BATT_FS_LOW_ACT / BATT_FS_CRT_ACT (escalation only; a LAND is never
//     turned into an RTL).
//   - GCS failsafe: only after a GCS heartbeat was seen (GCSHeartbeat), no
//     heartbeat for FS_GCS_TIMEOUT s → RTL (FS_GCS_ENABLE 5: LAND) while
//     armed; disarm when landed; continue in pilot modes (FS_OPTIONS bit 4,
//     default) and in AUTO with FS_OPTIONS bit 1.
//   - EKF failsafe stand-in: flying a position mode without a fix for 5 s
//     → LAND ("EKF Failsafe").
//   - Parameters: ArduCopter 4.7 names, MAV_PARAM_TYPEs and SITL defaults for
//     the ~70 parameters above, in a stable order; the pre-4.7 names
//     SYSID_THISMAV, SYSID_MYGCS and SRn_* are accepted as aliases. Sets
//     outside a range, NaN or ±Inf are refused. MIS_TOTAL and RALLY_TOTAL
//     follow the uploads.
//
// # Deliberate differences and limits
//
//   - Defaults differ from SITL where a simulated fleet should be safe:
//     FS_GCS_ENABLE 1, BATT_FS_LOW_ACT 2 (RTL), BATT_FS_CRT_ACT 1 (LAND),
//     BATT_CRT_VOLT 10.0 V, BATT_CAPACITY 5000 mAh. The GPS reports a 3D fix
//     (fix type 3), not SITL's RTK fixed (6).
//   - There is no RC input: switching to AUTO armed on the ground with a
//     mission that starts with NAV_TAKEOFF starts the mission at once (real
//     ArduCopter waits for throttle unless started by MAV_CMD_MISSION_START).
//   - MISSION_ITEM_REACHED is emitted for every navigation item when it
//     completes (ArduCopter omits it for TAKEOFF, LAND and RTL) and for
//     NAV_LOITER_UNLIM on arrival, so a ground station sees every item.
//   - Item params are stored as sent (ArduPilot packs some into bytes, e.g.
//     waypoint hold and acceptance radius, and drops others).
//   - No terrain following, spline paths, RTL cone, SmartRTL breadcrumbs,
//     pilot sticks, EKF variances, compass or vibration, ADS-B, rangefinder;
//     the crash check is a touchdown speed, not an attitude check. The
//     flat-earth frame is accurate over the few kilometres a copter flies.
//   - The pre-arm and failsafe texts follow ArduPilot's source as far as
//     known; some ("PreArm: Fence: vehicle outside fence", "Destination
//     outside fence") are close paraphrases.
package vehicle
