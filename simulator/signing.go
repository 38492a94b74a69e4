package simulator

import (
	"fmt"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialects/ardupilotmega"
	"github.com/bluenviron/gomavlib/v3/pkg/dialects/common"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
	"github.com/burgut-uav/burgut/internal/mavsign"
	"github.com/burgut-uav/burgut/simulator/vehicle"
)

// MAVLink 2 signing as ArduPilot does it (libraries/GCS_MAVLink/
// GCS_Signing.cpp): SETUP_SIGNING stores a key and activates it at once on
// every channel; from then on every frame the vehicle sends is signed, and
// a received frame is handled only when it carries a valid signature
// (timestamp and replay rules: package mavsign), except
//   - RADIO_STATUS and RADIO, which radios inject unsigned, and
//   - anything on the trusted channel: ArduPilot's channel 0 (USB on a
//     flight controller, TCP 5760 in SITL) accepts unsigned frames; here
//     the per-vehicle TCP server is that channel, the UDP link to the
//     ground station is not.
//
// A key of all zeros with timestamp 0 turns signing off. A vehicle refuses
// SETUP_SIGNING while armed. A keyed vehicle only takes a new key (or the
// zero key) in a frame signed with the current one, or over the trusted
// channel: an attacker on the radio link cannot re-key or un-key it.

// signingLinkID is the link ID in the vehicle's signatures (ArduPilot puts
// its channel number there; the simulated telemetry radio is one channel).
const signingLinkID = 0

// vehicleSigning is a keyed vehicle's signing state, guarded by
// SimVehicle.mu.
type vehicleSigning struct {
	key      mavsign.Key
	signer   *mavsign.Signer
	verifier *mavsign.Verifier
}

// SigningStats is a vehicle's signing state for tests and benchmarks.
type SigningStats struct {
	// Keyed reports whether a key is set (frames are signed and unsigned
	// ones refused).
	Keyed bool
	// Fingerprint names the key (mavsign.Key.Fingerprint); "" unkeyed.
	Fingerprint string
	// Accepted counts signed frames that verified; AcceptedMsgs by
	// message ID (e.g. 0: the ground station's signed HEARTBEATs, which
	// keep the GCS failsafe quiet).
	Accepted     uint64
	AcceptedMsgs map[uint32]uint64
	// Rejected counts refused frames by reason (mavsign.Result.String()):
	// they were ignored, not handled.
	Rejected map[string]uint64
	// RejectedMsgs counts refused frames by MAVLink message ID.
	RejectedMsgs map[uint32]uint64
	// SetupRefused counts SETUP_SIGNING messages refused (armed).
	SetupRefused uint64
}

// Signing reports the vehicle's signing state and counters.
func (sv *SimVehicle) Signing() SigningStats {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	st := SigningStats{Accepted: sv.signAccepted, SetupRefused: sv.signSetupRefused, Rejected: map[string]uint64{},
		RejectedMsgs: make(map[uint32]uint64, len(sv.signRejectedMsgs)), AcceptedMsgs: make(map[uint32]uint64, len(sv.signAcceptedMsgs))}
	for id, n := range sv.signAcceptedMsgs {
		st.AcceptedMsgs[id] = n
	}
	for id, n := range sv.signRejectedMsgs {
		st.RejectedMsgs[id] = n
	}
	for r, n := range sv.signRejected {
		if n > 0 {
			st.Rejected[mavsign.Result(r).String()] = n
		}
	}
	if sv.signing != nil {
		st.Keyed = true
		st.Fingerprint = sv.signing.key.Fingerprint()
	}
	return st
}

// maxRejectedMsgIDs bounds the message IDs counted separately in
// SigningStats.RejectedMsgs and AcceptedMsgs; the rest count under
// OtherMsgID.
const maxRejectedMsgIDs = 64

// OtherMsgID is the RejectedMsgs key for message IDs beyond the first
// maxRejectedMsgIDs distinct ones.
const OtherMsgID = 1 << 24

// countMsg counts one frame of message id in m (allocated on first use),
// under OtherMsgID beyond maxRejectedMsgIDs distinct IDs: a flood of
// made-up message IDs cannot grow the map.
func countMsg(m map[uint32]uint64, id uint32) map[uint32]uint64 {
	if m == nil {
		m = map[uint32]uint64{}
	}
	if _, ok := m[id]; !ok && len(m) >= maxRejectedMsgIDs {
		id = OtherMsgID
	}
	m[id]++
	return m
}

// unsignedAccepted are the messages ArduPilot takes unsigned even with a
// key set: radio modems inject them without knowing the key.
func unsignedAccepted(id uint32) bool {
	return id == (&common.MessageRadioStatus{}).GetID() || id == (&ardupilotmega.MessageRadio{}).GetID()
}

// admit applies the signing rules to one received frame: true when it may
// be handled. Called with sv.mu held.
func (sv *SimVehicle) admit(fr frame.Frame, trusted bool) bool {
	s := sv.signing
	if s == nil {
		return true
	}
	res := s.verifier.Verify(dialectRW, fr, time.Now())
	if res == mavsign.OK {
		sv.signAccepted++
		sv.signAcceptedMsgs = countMsg(sv.signAcceptedMsgs, fr.GetMessage().GetID())
		return true
	}
	if trusted || unsignedAccepted(fr.GetMessage().GetID()) {
		return true
	}
	sv.signRejected[res]++
	sv.signRejectedMsgs = countMsg(sv.signRejectedMsgs, fr.GetMessage().GetID())
	sv.warn("MAVLink frame refused: signing", "reason", res.String(), "from_sysid", fr.GetSystemID(),
		"from_compid", fr.GetComponentID(), "msgid", fr.GetMessage().GetID())
	return false
}

// setupSigning handles SETUP_SIGNING (admit has already checked that a
// keyed vehicle got it signed or on the trusted channel). Called with
// sv.mu held.
func (sv *SimVehicle) setupSigning(m *common.MessageSetupSigning) {
	if sv.model.State().Armed {
		sv.signSetupRefused++
		sv.statusText(vehicle.SeverityWarning, "ERROR: Won't setup signing when armed")
		return
	}
	key := mavsign.Key(m.SecretKey)
	if key.IsZero() && m.InitialTimestamp == 0 {
		sv.signing = nil
		sv.log.Info("MAVLink signing disabled")
		return
	}
	s := &vehicleSigning{key: key, signer: mavsign.NewSigner(key, signingLinkID), verifier: mavsign.NewVerifier(key)}
	// The first signatures continue from the station's initial timestamp
	// when it is ahead of the vehicle's clock (ArduPilot starts from it
	// until GPS time arrives).
	s.signer.Advance(m.InitialTimestamp)
	sv.signing = s
	sv.log.Info("MAVLink signing enabled", "key", key)
}

// compWriter frames one component's messages: sequence numbers, CRC and,
// when the vehicle is keyed, the signature. Guarded by SimVehicle.mu.
type compWriter struct {
	fw   *frame.Writer
	sys  uint8
	comp uint8
	seq  uint8
}

func (w *compWriter) write(m message.Message, s *vehicleSigning) error {
	mp := dialectRW.GetMessage(m.GetID())
	if mp == nil {
		return fmt.Errorf("message %d is not in the dialect", m.GetID())
	}
	f := &frame.V2Frame{SequenceNumber: w.seq, SystemID: w.sys, ComponentID: w.comp, Message: mp.Write(m, true)}
	w.seq++
	if s != nil {
		s.signer.Sign(f, mp.CRCExtra(), time.Now())
	} else {
		f.Checksum = f.GenerateChecksum(mp.CRCExtra())
	}
	return w.fw.Write(f)
}
