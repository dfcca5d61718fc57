package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters.
type Params struct {
	Memory      uint32 // KiB
	Iterations  uint32
	Parallelism uint8
}

// DefaultParams are OWASP's minimum for argon2id (m=19 MiB, t=2, p=1),
// which SECURITY.md requires.
var DefaultParams = Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1}

// Sizes of the salt and derived key in new hashes, in bytes. Older hashes
// with shorter ones still verify but ask for a rehash.
const (
	saltLen = 16
	keyLen  = 32
)

// Bounds on what Verify accepts from a stored hash, so that a corrupt or
// hostile value is an error rather than a panic or an enormous allocation.
const (
	maxMemoryKiB  = 4 * 1024 * 1024 // 4 GiB
	maxIterations = 1000
	minSaltLen    = 8
	maxSaltLen    = 64
	minKeyLen     = 16
	maxKeyLen     = 64
)

// ErrMalformedHash is wrapped by Verify's error for a stored value that is
// not an argon2id PHC string it can check.
var ErrMalformedHash = errors.New("password: malformed hash")

// Hasher hashes and verifies passwords with argon2id. The zero value uses
// DefaultParams; a zero field takes its value from DefaultParams.
type Hasher struct {
	Params Params
}

// params returns h's parameters with zero fields filled from DefaultParams.
func (h Hasher) params() Params {
	p := h.Params
	if p.Memory == 0 {
		p.Memory = DefaultParams.Memory
	}
	if p.Iterations == 0 {
		p.Iterations = DefaultParams.Iterations
	}
	if p.Parallelism == 0 {
		p.Parallelism = DefaultParams.Parallelism
	}
	return p
}

// Hash returns password's argon2id hash with a fresh random salt, as
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// with salt and hash in unpadded standard base64.
func (h Hasher) Hash(password string) (string, error) {
	p := h.params()
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: read salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, keyLen)
	return encode(p, salt, key), nil
}

// Verify reports whether password matches encoded, and whether encoded was
// made with weaker parameters (or a shorter salt or key) than h's, so that
// the caller should store a fresh Hash after a successful sign-in.
// needsRehash is only ever true together with ok. The comparison takes
// constant time. An empty encoded means no password is set: false, nil.
// A malformed encoded is an error wrapping ErrMalformedHash.
func (h Hasher) Verify(encoded, password string) (ok, needsRehash bool, err error) {
	if encoded == "" {
		return false, false, nil
	}
	stored, err := decode(encoded)
	if err != nil {
		return false, false, err
	}
	sp := stored.params
	key := argon2.IDKey([]byte(password), stored.salt, sp.Iterations, sp.Memory, sp.Parallelism, uint32(len(stored.key)))
	if subtle.ConstantTimeCompare(key, stored.key) != 1 {
		return false, false, nil
	}
	want := h.params()
	weaker := sp.Memory < want.Memory || sp.Iterations < want.Iterations || sp.Parallelism < want.Parallelism ||
		len(stored.salt) < saltLen || len(stored.key) < keyLen
	return true, weaker, nil
}

// burnSalt and burnKey make up the fixed dummy hash that Burn checks
// against; no password matches it in practice, and none needs to.
var (
	burnSalt = []byte("rekey-burn-salt!")
	burnKey  = make([]byte, keyLen)
)

// Burn does the work of one verification at h's parameters against a fixed
// dummy hash and throws the answer away, so that a sign-in for an unknown
// user, or one without a password, takes as long as for a known one.
func (h Hasher) Burn(password string) {
	p := h.params()
	key := argon2.IDKey([]byte(password), burnSalt, p.Iterations, p.Memory, p.Parallelism, keyLen)
	subtle.ConstantTimeCompare(key, burnKey)
}

// encode formats a hash in the PHC string format.
func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Iterations, p.Parallelism,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// storedHash is a parsed PHC string.
type storedHash struct {
	params Params
	salt   []byte
	key    []byte
}

// decode parses and bounds-checks an argon2id PHC string.
func decode(encoded string) (storedHash, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return storedHash{}, fmt.Errorf("%w: want 5 fields separated by '$'", ErrMalformedHash)
	}
	if parts[1] != "argon2id" {
		return storedHash{}, fmt.Errorf("%w: algorithm %q, want argon2id", ErrMalformedHash, parts[1])
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return storedHash{}, fmt.Errorf("%w: version %q, want v=%d", ErrMalformedHash, parts[2], argon2.Version)
	}
	p, err := decodeParams(parts[3])
	if err != nil {
		return storedHash{}, err
	}
	salt, err := decodeBase64("salt", parts[4], minSaltLen, maxSaltLen)
	if err != nil {
		return storedHash{}, err
	}
	key, err := decodeBase64("hash", parts[5], minKeyLen, maxKeyLen)
	if err != nil {
		return storedHash{}, err
	}
	return storedHash{params: p, salt: salt, key: key}, nil
}

// decodeParams parses "m=<KiB>,t=<iterations>,p=<parallelism>" in that order.
func decodeParams(s string) (Params, error) {
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return Params{}, fmt.Errorf("%w: parameters %q, want m=,t=,p=", ErrMalformedHash, s)
	}
	var values [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		value, ok := strings.CutPrefix(fields[i], name+"=")
		if !ok {
			return Params{}, fmt.Errorf("%w: parameters %q, want m=,t=,p=", ErrMalformedHash, s)
		}
		n, err := strconv.ParseUint(value, 10, 32)
		if err != nil {
			return Params{}, fmt.Errorf("%w: parameter %s=%q is not a number", ErrMalformedHash, name, value)
		}
		values[i] = n
	}
	m, t, p := values[0], values[1], values[2]
	switch {
	case p < 1 || p > 255:
		return Params{}, fmt.Errorf("%w: parallelism %d out of range 1..255", ErrMalformedHash, p)
	case t < 1 || t > maxIterations:
		return Params{}, fmt.Errorf("%w: iterations %d out of range 1..%d", ErrMalformedHash, t, maxIterations)
	case m < 8*p || m > maxMemoryKiB:
		return Params{}, fmt.Errorf("%w: memory %d KiB out of range %d..%d", ErrMalformedHash, m, 8*p, maxMemoryKiB)
	}
	return Params{Memory: uint32(m), Iterations: uint32(t), Parallelism: uint8(p)}, nil
}

// decodeBase64 decodes an unpadded standard base64 field of a PHC string
// and checks its length in bytes.
func decodeBase64(name, s string, minLen, maxLen int) ([]byte, error) {
	b, err := base64.RawStdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not unpadded base64", ErrMalformedHash, name)
	}
	if len(b) < minLen || len(b) > maxLen {
		return nil, fmt.Errorf("%w: %s is %d bytes, want %d..%d", ErrMalformedHash, name, len(b), minLen, maxLen)
	}
	return b, nil
}
