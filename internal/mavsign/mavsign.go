// Package mavsign implements MAVLink 2 message signing for one key at a
// time: signing outgoing frames and verifying incoming ones with the
// spec's timestamp and replay rules. The ground station keeps one
// Signer/Verifier pair per keyed vehicle and the simulator one per keyed
// aircraft, because gomavlib's own signing (Node.InKey/OutKey) holds one key
// for a whole node and then refuses every unsigned frame on every channel.
//
// The signature (spec: https://mavlink.io/en/guide/message_signing.html) is
// the first 48 bits of SHA-256(key ‖ header ‖ payload ‖ CRC ‖ link ID ‖
// timestamp), the timestamp counting 10 µs units since 2015-01-01 00:00 UTC.
// A receiver accepts a signed frame when the signature matches and
//   - the frame's stream (system ID, component ID, link ID) was heard before
//     and this timestamp is greater than the last one accepted on it
//     (an equal one is a replay), or
//   - the stream is new and its timestamp is at most one minute behind the
//     receiver's own timestamp (the larger of its clock and every timestamp
//     it accepted).
//
// Frames are verified after gomavlib decoded them, so the payload the
// signature covers is rebuilt by re-encoding the message (Raw). That is
// the bytes a MAVLink 2 sender puts on the wire (trailing zeros trimmed,
// strings zero-padded); a sender that leaves junk after a string's NUL
// produces a payload the re-encoding cannot reproduce and its frames fail
// verification.
package mavsign

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gomavlib/v3/pkg/dialect"
	"github.com/bluenviron/gomavlib/v3/pkg/frame"
	"github.com/bluenviron/gomavlib/v3/pkg/message"
)

// Epoch is the origin of signing timestamps.
var Epoch = time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)

// MaxAge is how far (in timestamp units, 10 µs) a new stream's first
// timestamp may lag the receiver's: one minute, as in the spec and the
// MAVLink C library.
const MaxAge = 60 * 100_000

// Timestamp is t in signing units: 10 µs since Epoch (0 before it).
func Timestamp(t time.Time) uint64 {
	d := t.Sub(Epoch)
	if d < 0 {
		return 0
	}
	return uint64(d / (10 * time.Microsecond))
}

// KeyLen is the length of a signing key in bytes.
const KeyLen = 32

// Key is a 32-byte MAVLink signing secret. Its String, GoString and
// LogValue print only the fingerprint, so a key that reaches a log line
// or an error message by mistake does not leak.
type Key [KeyLen]byte

// ParseKey reads a key written as 64 hexadecimal digits.
func ParseKey(s string) (Key, error) {
	var k Key
	s = strings.TrimSpace(s)
	if len(s) != 2*KeyLen {
		return k, fmt.Errorf("signing key: want %d hexadecimal digits, got %d characters", 2*KeyLen, len(s))
	}
	if _, err := hex.Decode(k[:], []byte(s)); err != nil {
		return Key{}, errors.New("signing key: not hexadecimal")
	}
	return k, nil
}

// GenerateKey returns a random key from the operating system's CSPRNG.
func GenerateKey() (Key, error) {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		return Key{}, fmt.Errorf("signing key: random source: %w", err)
	}
	return k, nil
}

// IsZero reports whether every byte is zero: SETUP_SIGNING with a zero key
// (and timestamp) turns signing off, so it is never a usable key.
func (k Key) IsZero() bool { return k == Key{} }

// Hex is the key as 64 hexadecimal digits, for the key file only.
func (k Key) Hex() string { return hex.EncodeToString(k[:]) }

// Fingerprint names the key without revealing it: the first 8 bytes of
// SHA-256 over a domain label and the key, in hex.
func (k Key) Fingerprint() string {
	h := sha256.New()
	h.Write([]byte("burgut mavlink signing key fingerprint\x00"))
	h.Write(k[:])
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// String prints the fingerprint, never the key.
func (k Key) String() string { return "key:" + k.Fingerprint() }

// GoString prints the fingerprint, never the key (%#v).
func (k Key) GoString() string { return k.String() }

// LogValue implements slog.LogValuer with the fingerprint.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// Raw returns the encoded message of f (the payload its CRC and signature
// cover): the frame's own MessageRaw when gomavlib did not decode it,
// otherwise the message re-encoded with rw. ok is false for a message
// the dialect does not know.
func Raw(rw *dialect.ReadWriter, f *frame.V2Frame) (raw *message.MessageRaw, crcExtra byte, ok bool) {
	mp := rw.GetMessage(f.Message.GetID())
	if r, isRaw := f.Message.(*message.MessageRaw); isRaw {
		if mp != nil {
			crcExtra = mp.CRCExtra()
		}
		return r, crcExtra, true
	}
	if mp == nil {
		return nil, 0, false
	}
	return mp.Write(f.Message, true), mp.CRCExtra(), true
}

// Signer signs frames with one key on one link. Timestamps strictly
// increase across everything it signs (two frames in the same 10 µs get
// consecutive values), as a receiver drops a repeated timestamp as a
// replay. Safe for concurrent use.
type Signer struct {
	key    frame.V2Key
	linkID byte
	mu     sync.Mutex
	last   uint64
}

// NewSigner returns a signer for key, putting linkID in every signature.
func NewSigner(key Key, linkID byte) *Signer {
	return &Signer{key: frame.V2Key(key), linkID: linkID}
}

// Sign makes f a signed frame: it sets the signed flag, the checksum (over
// the flagged header), the link ID, the next timestamp at now and the
// signature. f.Message must be encoded (*message.MessageRaw) and crcExtra
// is its message's CRC_EXTRA.
func (s *Signer) Sign(f *frame.V2Frame, crcExtra byte, now time.Time) {
	f.IncompatibilityFlag |= frame.V2FlagSigned
	f.Checksum = f.GenerateChecksum(crcExtra)
	f.SignatureLinkID = s.linkID
	ts := Timestamp(now)
	s.mu.Lock()
	if ts <= s.last {
		ts = s.last + 1
	}
	s.last = ts
	s.mu.Unlock()
	f.SignatureTimestamp = ts
	f.Signature = f.GenerateSignature(&s.key)
}

// Advance makes every later timestamp greater than ts: a vehicle given
// SETUP_SIGNING's initial timestamp continues from it when it is ahead of
// its own clock.
func (s *Signer) Advance(ts uint64) {
	s.mu.Lock()
	s.last = max(s.last, ts)
	s.mu.Unlock()
}

// Result is a verification outcome.
type Result uint8

// Verification outcomes. Everything but OK is a rejected frame.
const (
	OK Result = iota
	// Unsigned: the frame has no signature (or is MAVLink 1).
	Unsigned
	// BadSignature: the signature does not match this key (another key,
	// or altered bytes).
	BadSignature
	// Replayed: the stream's timestamp did not increase (a replayed or
	// duplicated signed frame).
	Replayed
	// TooOld: a new stream whose timestamp is more than MaxAge behind.
	TooOld
	// Undecodable: a message the dialect cannot re-encode, so its
	// signature cannot be checked.
	Undecodable
)

// Reasons lists every rejection, in Result order after OK: the label set
// of the counters.
var Reasons = []Result{Unsigned, BadSignature, Replayed, TooOld, Undecodable}

func (r Result) String() string {
	switch r {
	case OK:
		return "ok"
	case Unsigned:
		return "unsigned"
	case BadSignature:
		return "bad_signature"
	case Replayed:
		return "replayed"
	case TooOld:
		return "too_old"
	case Undecodable:
		return "undecodable"
	}
	return fmt.Sprintf("result(%d)", uint8(r))
}

type stream struct{ sys, comp, link byte }

// maxStreams bounds the streams remembered per key; a peer cycling link
// IDs cannot grow the map without bound (the oldest-by-timestamp stream is
// forgotten, which only makes the age rule apply to it again).
const maxStreams = 256

// Verifier checks frames signed with one key. Not safe for concurrent use:
// one owner (a dispatcher, the simulator's vehicle lock) calls it.
type Verifier struct {
	key     frame.V2Key
	streams map[stream]uint64
	local   uint64 // highest timestamp accepted
}

// NewVerifier returns a verifier for key.
func NewVerifier(key Key) *Verifier {
	return &Verifier{key: frame.V2Key(key), streams: make(map[stream]uint64)}
}

// Verify checks f (as gomavlib decoded it) at the receiver's time now;
// rw re-encodes its message. Only an OK frame advances the stream's
// timestamp.
func (v *Verifier) Verify(rw *dialect.ReadWriter, f frame.Frame, now time.Time) Result {
	f2, ok := f.(*frame.V2Frame)
	if !ok || !f2.IsSigned() || f2.Signature == nil {
		return Unsigned
	}
	raw, _, ok := Raw(rw, f2)
	if !ok {
		return Undecodable
	}
	c := *f2
	c.Message = raw
	sig := c.GenerateSignature(&v.key)
	if subtle.ConstantTimeCompare(sig[:], f2.Signature[:]) != 1 {
		return BadSignature
	}
	st := stream{f2.SystemID, f2.ComponentID, f2.SignatureLinkID}
	ts := f2.SignatureTimestamp
	if last, seen := v.streams[st]; seen {
		if ts <= last {
			return Replayed
		}
	} else {
		local := max(v.local, Timestamp(now))
		if ts+MaxAge < local {
			return TooOld
		}
		if len(v.streams) >= maxStreams {
			v.forgetOldest()
		}
	}
	v.streams[st] = ts
	v.local = max(v.local, ts)
	return OK
}

func (v *Verifier) forgetOldest() {
	var oldest stream
	first := true
	var min uint64
	for s, ts := range v.streams {
		if first || ts < min {
			oldest, min, first = s, ts, false
		}
	}
	delete(v.streams, oldest)
}
