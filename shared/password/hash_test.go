package password

import (
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

// fastHasher keeps most tests quick; TestHashDefaultParams covers the real
// parameters.
var fastHasher = Hasher{Params: Params{Memory: 64, Iterations: 1, Parallelism: 1}}

// phcPattern matches an argon2id PHC string and captures m, t, p, salt, hash.
var phcPattern = regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$`)

func TestHashFormat(t *testing.T) {
	encoded, err := fastHasher.Hash("correct horse battery staple")
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	m := phcPattern.FindStringSubmatch(encoded)
	if m == nil {
		t.Fatalf("Hash() = %q, want an argon2id PHC string", encoded)
	}
	if got := m[1] + "," + m[2] + "," + m[3]; got != "64,1,1" {
		t.Errorf("Hash() params m,t,p = %s, want 64,1,1", got)
	}
	for _, part := range []struct {
		name    string
		encoded string
		wantLen int
	}{
		{"salt", m[4], 16},
		{"hash", m[5], 32},
	} {
		raw, err := base64.RawStdEncoding.DecodeString(part.encoded)
		if err != nil {
			t.Errorf("%s %q is not unpadded base64: %v", part.name, part.encoded, err)
			continue
		}
		if len(raw) != part.wantLen {
			t.Errorf("%s is %d bytes, want %d", part.name, len(raw), part.wantLen)
		}
	}
}

func TestHashDefaultParams(t *testing.T) {
	var h Hasher
	encoded, err := h.Hash("correct horse battery staple")
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if want := "$argon2id$v=19$m=19456,t=2,p=1$"; !strings.HasPrefix(encoded, want) {
		t.Errorf("Hash() = %q, want prefix %q", encoded, want)
	}
	ok, needsRehash, err := h.Verify(encoded, "correct horse battery staple")
	if !ok || needsRehash || err != nil {
		t.Errorf("Verify(right password) = %v, %v, %v, want true, false, nil", ok, needsRehash, err)
	}
	ok, needsRehash, err = h.Verify(encoded, "correct horse battery stapler")
	if ok || needsRehash || err != nil {
		t.Errorf("Verify(wrong password) = %v, %v, %v, want false, false, nil", ok, needsRehash, err)
	}
}

func TestHashPartialParamsUseDefaults(t *testing.T) {
	h := Hasher{Params: Params{Memory: 64}}
	encoded, err := h.Hash("pw")
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if want := "$argon2id$v=19$m=64,t=2,p=1$"; !strings.HasPrefix(encoded, want) {
		t.Errorf("Hash() = %q, want prefix %q", encoded, want)
	}
}

func TestHashSaltsDiffer(t *testing.T) {
	first, err := fastHasher.Hash("same password")
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	second, err := fastHasher.Hash("same password")
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if first == second {
		t.Errorf("Hash() twice of one password = %q both times, want different salts", first)
	}
}

// TestVerify checks the answer and the rehash advice of Verify, by
// password against one hash, and by the params of the verifying hasher
// against the hash's own.
func TestVerify(t *testing.T) {
	const stored = "Tr0ub4dour & 🐴 battery"
	encoded, err := fastHasher.Hash(stored)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	for _, test := range []struct {
		name            string
		hasher          Hasher
		encoded         string
		password        string
		wantOK          bool
		wantNeedsRehash bool
	}{
		{"right password", fastHasher, encoded, stored, true, false},
		{"wrong password", fastHasher, encoded, "Tr0ub4dour & 🐴 batterY", false, false},
		{"empty password", fastHasher, encoded, "", false, false},
		{"prefix of password", fastHasher, encoded, "Tr0ub4dour", false, false},
		{"no password set", fastHasher, "", stored, false, false},
		{"more memory", Hasher{Params: Params{Memory: 128, Iterations: 1, Parallelism: 1}}, encoded, stored, true, true},
		{"more iterations", Hasher{Params: Params{Memory: 64, Iterations: 2, Parallelism: 1}}, encoded, stored, true, true},
		{"more parallelism", Hasher{Params: Params{Memory: 64, Iterations: 1, Parallelism: 2}}, encoded, stored, true, true},
		{"defaults", Hasher{}, encoded, stored, true, true},
		{"lower params", Hasher{Params: Params{Memory: 32, Iterations: 1, Parallelism: 1}}, encoded, stored, true, false},
		{"wrong password never asks for rehash", Hasher{}, encoded, "other", false, false},
	} {
		t.Run(test.name, func(t *testing.T) {
			ok, needsRehash, err := test.hasher.Verify(test.encoded, test.password)
			if ok != test.wantOK || needsRehash != test.wantNeedsRehash || err != nil {
				t.Errorf("%+v.Verify(%q, %q) = %v, %v, %v, want %v, %v, nil",
					test.hasher.Params, test.encoded, test.password, ok, needsRehash, err, test.wantOK, test.wantNeedsRehash)
			}
		})
	}
}

func TestVerifyShortSaltOrKeyNeedsRehash(t *testing.T) {
	p := fastHasher.params()
	short := []byte("0123456789abcdef")[:8]
	for _, test := range []struct {
		name string
		salt []byte
		len  uint32
	}{
		{"8-byte salt", short, 32},
		{"16-byte key", []byte("0123456789abcdef"), 16},
	} {
		t.Run(test.name, func(t *testing.T) {
			encoded := encode(p, test.salt, argon2.IDKey([]byte("pw"), test.salt, p.Iterations, p.Memory, p.Parallelism, test.len))
			ok, needsRehash, err := fastHasher.Verify(encoded, "pw")
			if !ok || !needsRehash || err != nil {
				t.Errorf("Verify(%q) = %v, %v, %v, want true, true, nil", encoded, ok, needsRehash, err)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	good, err := fastHasher.Hash("pw")
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	with := func(params, salt, key string) string {
		return "$argon2id$v=19$" + params + "$" + salt + "$" + key
	}
	for _, test := range []struct {
		name    string
		encoded string
	}{
		{"plain text", "hunter2"},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", strings.Replace(good, "$argon2id$", "$argon2i$", 1)},
		{"old version", strings.Replace(good, "$v=19$", "$v=16$", 1)},
		{"missing version", "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{"too many fields", good + "$extra"},
		{"text before", "x" + good},
		{"params out of order", with("t=1,m=64,p=1", salt, key)},
		{"params missing", with("m=64,t=1", salt, key)},
		{"param not a number", with("m=64,t=one,p=1", salt, key)},
		{"negative param", with("m=-64,t=1,p=1", salt, key)},
		{"zero iterations", with("m=64,t=0,p=1", salt, key)},
		{"zero parallelism", with("m=64,t=1,p=0", salt, key)},
		{"parallelism over 255", with("m=4096,t=1,p=256", salt, key)},
		{"memory below 8 per lane", with("m=7,t=1,p=1", salt, key)},
		{"memory too large", with("m=4294967295,t=1,p=1", salt, key)},
		{"iterations too many", with("m=64,t=100000,p=1", salt, key)},
		{"param overflows uint32", with("m=99999999999,t=1,p=1", salt, key)},
		{"salt not base64", with("m=64,t=1,p=1", "!!!!", key)},
		{"padded salt", with("m=64,t=1,p=1", salt+"==", key)},
		{"empty salt", with("m=64,t=1,p=1", "", key)},
		{"short salt", with("m=64,t=1,p=1", "c2FsdA", key)},
		{"empty hash", with("m=64,t=1,p=1", salt, "")},
		{"short hash", with("m=64,t=1,p=1", salt, "aGFzaA")},
		{"hash of impossible base64 length", with("m=64,t=1,p=1", salt, key[:41])},
	} {
		t.Run(test.name, func(t *testing.T) {
			ok, needsRehash, err := fastHasher.Verify(test.encoded, "pw")
			if ok || needsRehash || !errors.Is(err, ErrMalformedHash) {
				t.Errorf("Verify(%q) = %v, %v, %v, want false, false, ErrMalformedHash", test.encoded, ok, needsRehash, err)
			}
		})
	}
}

func TestBurn(t *testing.T) {
	// Burn has no result; this checks it runs at both small and default
	// parameters without panicking.
	fastHasher.Burn("anything")
	Hasher{}.Burn("")
}

func BenchmarkHash(b *testing.B) {
	var h Hasher
	for b.Loop() {
		if _, err := h.Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	var h Hasher
	encoded, err := h.Hash("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, err := h.Verify(encoded, "correct horse battery staple"); !ok || err != nil {
			b.Fatalf("Verify = %v, %v", ok, err)
		}
	}
}
