package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// HashParams are the argon2id parameters of new password hashes. Stored
// hashes carry their own parameters (PHC string format), so raising these
// later keeps old passwords working.
type HashParams struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultHashParams follow OWASP's argon2id recommendation (19 MiB, two
// passes, one lane): about 30–60 ms per login on one core of a small
// station, which makes offline guessing of a stolen auth.db slow while a
// login stays instant for a person. Guard bounds how many hashes run at
// once, so a login flood cannot exhaust memory.
var DefaultHashParams = HashParams{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

const (
	saltLen       = 16
	keyLen        = 32
	minPassword   = 8
	maxPassword   = 1024
	phcPrefix     = "$argon2id$"
	maxHashMemory = 1 << 20 // KiB: refuse absurd parameters in a stored hash
)

// ErrWeakPassword is returned for passwords too short or too long.
var ErrWeakPassword = fmt.Errorf("password must be %d to %d bytes", minPassword, maxPassword)

// CheckPasswordPolicy says why a new password is refused, or nil.
func CheckPasswordPolicy(pw string) error {
	if len(pw) < minPassword || len(pw) > maxPassword {
		return ErrWeakPassword
	}
	return nil
}

// hashPassword returns the PHC-format argon2id hash of pw with a fresh salt.
func hashPassword(pw string, p HashParams) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("%sv=%d$m=%d,t=%d,p=%d$%s$%s", phcPrefix, argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// verifyPassword reports whether pw matches the PHC hash. The comparison
// is constant-time; a malformed hash is an error (never a match).
func verifyPassword(pw, hash string) (bool, error) {
	p, salt, key, err := parsePHC(hash)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

func parsePHC(hash string) (HashParams, []byte, []byte, error) {
	var p HashParams
	rest, ok := strings.CutPrefix(hash, phcPrefix)
	if !ok {
		return p, nil, nil, errors.New("password hash: not argon2id")
	}
	parts := strings.Split(rest, "$")
	if len(parts) != 4 {
		return p, nil, nil, errors.New("password hash: want 4 fields")
	}
	var v int
	if _, err := fmt.Sscanf(parts[0], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, fmt.Errorf("password hash: version %q", parts[0])
	}
	var threads uint32
	if _, err := fmt.Sscanf(parts[1], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &threads); err != nil {
		return p, nil, nil, fmt.Errorf("password hash: parameters %q: %w", parts[1], err)
	}
	if p.MemoryKiB < 8 || p.MemoryKiB > maxHashMemory || p.Time < 1 || p.Time > 64 || threads < 1 || threads > 64 {
		return p, nil, nil, fmt.Errorf("password hash: parameters %q out of range", parts[1])
	}
	p.Threads = uint8(threads)
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[2])
	if err != nil || len(salt) < 8 {
		return p, nil, nil, errors.New("password hash: bad salt")
	}
	key, err := b64.DecodeString(parts[3])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errors.New("password hash: bad key")
	}
	return p, salt, key, nil
}

// GeneratePassword returns a random password for a first-start admin
// account: 20 characters from an alphabet without look-alikes (~110 bits).
func GeneratePassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	r := make([]byte, 20)
	_, _ = rand.Read(r)
	for i := range b {
		b[i] = alphabet[int(r[i])%len(alphabet)]
	}
	return string(b)
}
