package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
)

// A token is "bgt_" + 12 hex digits of public ID + "_" + 43 base64url
// characters of secret (256 bits). The ID finds the row (and names the token
// in lists and logs without revealing it); only the SHA-256 of the secret
// is stored. A fast hash is enough here: the secret is random, not a
// password a person chose.
const (
	tokenPrefix    = "bgt_"
	tokenIDLen     = 12
	tokenSecretLen = 43
	tokenLen       = len(tokenPrefix) + tokenIDLen + 1 + tokenSecretLen
)

var errMalformedToken = errors.New("malformed token")

// newToken returns a fresh token, its ID and the digest of its secret.
func newToken() (token, id string, digest [32]byte) {
	var idb [tokenIDLen / 2]byte
	var sec [32]byte
	_, _ = rand.Read(idb[:])
	_, _ = rand.Read(sec[:])
	id = hex.EncodeToString(idb[:])
	secret := base64.RawURLEncoding.EncodeToString(sec[:])
	return tokenPrefix + id + "_" + secret, id, sha256.Sum256([]byte(secret))
}

// ParseToken splits a token into its ID and the digest of its secret. It
// checks the shape only; Store.CheckToken looks it up.
func ParseToken(tok string) (id string, digest [32]byte, err error) {
	if len(tok) != tokenLen || !strings.HasPrefix(tok, tokenPrefix) || tok[len(tokenPrefix)+tokenIDLen] != '_' {
		return "", digest, errMalformedToken
	}
	id = tok[len(tokenPrefix) : len(tokenPrefix)+tokenIDLen]
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", digest, errMalformedToken
		}
	}
	secret := tok[len(tokenPrefix)+tokenIDLen+1:]
	if _, err := base64.RawURLEncoding.Strict().DecodeString(secret); err != nil {
		return "", digest, errMalformedToken
	}
	return id, sha256.Sum256([]byte(secret)), nil
}

// bearer extracts the token of an "Authorization: Bearer TOKEN" header
// value; ok is false when the header is absent or another scheme.
func bearer(h string) (tok string, ok bool) {
	scheme, rest, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(rest), true
}
