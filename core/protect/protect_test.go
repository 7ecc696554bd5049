package protect

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/chacha20poly1305"
)

// pickle is a small protocol-5 pickle, the kind of value a Django worker
// must never deserialize unless it was sealed with a configured secret.
const pickle = "\x80\x05\x95\x0b\x00\x00\x00\x00\x00\x00\x00\x8c\x05hello\x94."

func newP(t testing.TB, m Mode, accept bool, secrets ...string) *Protector {
	t.Helper()
	p, err := New(Options{Mode: m, Secrets: secrets, AcceptUnprotected: accept})
	if err != nil || p == nil || p.Mode() != m {
		t.Fatalf("New(%v, %q) = %v, %v; want a Protector of that mode", m, secrets, p, err)
	}
	return p
}

// refKey is the documented derivation, written out again here (with the
// salt as a literal, not Salt) so that a change to it fails the tests.
func refKey(secret, label string) []byte {
	base := sha256.Sum256([]byte("redis_cache_go.value_protection.v1" + secret))
	h := hmac.New(sha256.New, base[:])
	h.Write([]byte(label))
	return h.Sum(nil)
}

// refHeader is magic | mode | key id of secret; refAD is header | uint32
// BE len(name) | name.
func refHeader(mode byte, secret string) []byte {
	return append([]byte{0xC1, 'R', 'C', 'G', mode}, refKey(secret, "key-id")[:4]...)
}

func refAD(header []byte, name string) []byte {
	return append(binary.BigEndian.AppendUint32(bytes.Clone(header), uint32(len(name))), name...)
}

// refSign is the signed form of payload, computed without the package.
func refSign(secret, name string, payload []byte) []byte {
	header := refHeader('s', secret)
	mac := hmac.New(sha256.New, refKey(secret, "sign"))
	mac.Write(refAD(header, name))
	mac.Write(payload)
	return mac.Sum(append(header, payload...))
}

var modes = []Mode{Sign, Encrypt}

// headerFlip is the refusal Open gives when byte i of the header of a value
// is changed: the magic (no header), the mode byte, the key id.
var headerFlip = [HeaderLen]error{ErrUnprotected, ErrUnprotected, ErrUnprotected, ErrUnprotected, ErrMode,
	ErrUnknownKey, ErrUnknownKey, ErrUnknownKey, ErrUnknownKey}

func TestParseMode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Mode
		err  bool
	}{
		{"", Off, false}, {"none", Off, false}, {"off", Off, false}, {" None ", Off, false},
		{"sign", Sign, false}, {"SIGN", Sign, false}, {" Sign\n", Sign, false},
		{"encrypt", Encrypt, false}, {"Encrypt", Encrypt, false},
		{"signed", Off, true}, {"aes", Off, true}, {"sign,encrypt", Off, true}, {"encrypted", Off, true}, {"0", Off, true},
	} {
		got, err := ParseMode(tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("ParseMode(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
	for m, want := range map[Mode]string{Off: "", Sign: "sign", Encrypt: "encrypt"} {
		if back, err := ParseMode(m.String()); m.String() != want || back != m || err != nil {
			t.Errorf("Mode(%d).String() = %q, parsed back as %v, %v; want %q, %v", m, m.String(), back, err, want, m)
		}
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		nilP bool // a nil Protector and no error; else nil and an error
	}{
		{"off", Options{}, true},
		{"off with secrets", Options{Secrets: []string{"s"}}, true},
		{"sign without secrets", Options{Mode: Sign}, false},
		{"encrypt with an empty list", Options{Mode: Encrypt, Secrets: []string{}}, false},
		{"empty first secret", Options{Mode: Sign, Secrets: []string{""}}, false},
		{"empty fallback", Options{Mode: Encrypt, Secrets: []string{"s", ""}}, false},
		{"unknown mode", Options{Mode: 7, Secrets: []string{"s"}}, false},
	} {
		if p, err := New(tc.opts); p != nil || (err == nil) != tc.nilP {
			t.Errorf("%s: New = %v, %v; want nil, error %v", tc.name, p, err, !tc.nilP)
		}
	}
	if got := (*Protector)(nil).Mode(); got != Off {
		t.Errorf("nil Protector's Mode() = %v; want Off", got)
	}
}

func TestRoundTrip(t *testing.T) {
	big := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{1}).Read(big)
	payloads := map[string][]byte{
		"empty": {}, "one byte": []byte("x"), "pickle": []byte(pickle), "1 MiB random": big,
		"24 digits": []byte("123456789012345678901234"), "- and 20 digits": []byte("-12345678901234567890"),
	}
	names := map[string]string{"empty": "", "plain": ":1:views.page", "unicode": ":1:ключ/キー/🔑", "64 KiB": strings.Repeat("k", 64<<10)}
	for _, m := range modes {
		p := newP(t, m, false, "secret")
		for pn, payload := range payloads {
			for nn, name := range names {
				sealed := p.Seal([]byte("prefix"), name, payload)
				if !bytes.HasPrefix(sealed, []byte("prefix")) || !Is(sealed[6:]) {
					t.Fatalf("%v %s %s: Seal = %.20q…; want prefix then a protected value", m, pn, nn, sealed)
				}
				sealed = sealed[6:]
				if grew := len(sealed) - len(payload); grew != p.Overhead() {
					t.Fatalf("%v %s %s: Seal added %d bytes; want Overhead() = %d", m, pn, nn, grew, p.Overhead())
				}
				for _, dst := range [][]byte{nil, make([]byte, 3, 16)} { // encrypt: into a fresh or a reused buffer
					if got, err := p.Open(dst, name, sealed); err != nil || !bytes.Equal(got, payload) {
						t.Fatalf("%v %s %s: Open = %d bytes, %v; want the %d bytes sealed", m, pn, nn, len(got), err, len(payload))
					}
				}
			}
		}
	}
}

func TestRaw(t *testing.T) {
	for _, tc := range []struct {
		v   string
		raw bool
	}{
		{"0", true}, {"-0", true}, {"-12", true}, {"42", true}, {"007", true},
		{"9223372036854775807", true}, {"-9223372036854775808", true},
		// past int64 (INCR refuses them): protected like any other value
		{"9999999999999999999", false}, {"9223372036854775808", false}, {"-9223372036854775809", false},
		{"1.5", false}, {"", false}, {"-", false}, {"+1", false}, {" 1", false}, {"1 ", false},
		{"--1", false}, {"1e3", false}, {"0x1", false}, {"١", false}, {"12a", false},
		{"12345678901234567890", false}, {"123456789012345678901", false}, {"-12345678901234567890", false},
	} {
		if got := Raw([]byte(tc.v)); got != tc.raw {
			t.Errorf("Raw(%q) = %v; want %v", tc.v, got, tc.raw)
			continue
		}
		for _, m := range modes {
			p := newP(t, m, false, "s")
			sealed := p.Seal(nil, "k", []byte(tc.v))
			if tc.raw != bytes.Equal(sealed, []byte(tc.v)) || tc.raw == Is(sealed) {
				t.Errorf("%v: Seal(%q) = %q; want it stored as is: %v", m, tc.v, sealed, tc.raw)
			}
			got, err := p.Open(nil, "k", sealed)
			if err != nil || string(got) != tc.v {
				t.Errorf("%v: Open(Seal(%q)) = %q, %v; want %q", m, tc.v, got, err, tc.v)
			}
		}
	}
}

func TestRefused(t *testing.T) {
	sign, enc := newP(t, Sign, false, "s"), newP(t, Encrypt, false, "s")
	other := map[Mode]*Protector{Sign: newP(t, Sign, false, "other"), Encrypt: newP(t, Encrypt, false, "other")}
	type refusal struct {
		name   string
		p      *Protector
		stored []byte
		want   error
	}
	cases := []refusal{
		{"signed opened by encrypt", enc, sign.Seal(nil, "k", []byte(pickle)), ErrMode},
		{"encrypted opened by sign", sign, enc.Seal(nil, "k", []byte(pickle)), ErrMode},
		{"unknown mode byte", sign, []byte("\xC1RCGx\x00\x00\x00\x00" + strings.Repeat("\x00", 40)), ErrMode},
	}
	for _, p := range []*Protector{sign, enc} {
		for _, v := range []string{pickle, `{"a": 1}`, "", "1.5", "\xC1"} {
			cases = append(cases, refusal{p.Mode().String() + " plain " + v, p, []byte(v), ErrUnprotected})
		}
		cases = append(cases,
			refusal{p.Mode().String() + " unknown secret", p, other[p.Mode()].Seal(nil, "k", []byte(pickle)), ErrUnknownKey},
			refusal{p.Mode().String() + " other key name", p, p.Seal(nil, "a", []byte(pickle)), ErrForged})
	}
	for _, tc := range cases {
		got, err := tc.p.Open(nil, "k", tc.stored)
		if !errors.Is(err, tc.want) || got != nil {
			t.Errorf("%s: Open = %q, %v; want nil, %v", tc.name, got, err, tc.want)
		}
	}
	// AcceptUnprotected: a value without the header comes back as it is,
	// a protected one is still checked.
	for _, m := range modes {
		p := newP(t, m, true, "s")
		for _, v := range []string{pickle, `{"a": 1}`, ""} {
			if got, err := p.Open(nil, "k", []byte(v)); err != nil || string(got) != v {
				t.Errorf("%v accepting: Open(%q) = %q, %v; want it as is", m, v, got, err)
			}
		}
		if _, err := p.Open(nil, "b", p.Seal(nil, "a", []byte(pickle))); !errors.Is(err, ErrForged) {
			t.Errorf("%v accepting: Open under another name: %v; want %v", m, err, ErrForged)
		}
	}
}

func TestTruncated(t *testing.T) {
	for _, m := range modes {
		p := newP(t, m, false, "s")
		sealed := p.Seal(nil, "k", []byte(pickle))
		for n := 0; n < p.Overhead(); n++ {
			// Shorter than the magic, a value has no protection header.
			want := ErrTruncated
			if n < len(Magic) {
				want = ErrUnprotected
			}
			if got, err := p.Open(nil, "k", sealed[:n]); !errors.Is(err, want) || got != nil {
				t.Errorf("%v: Open of the first %d bytes = %q, %v; want nil, %v", m, n, got, err, want)
			}
		}
		for n := p.Overhead(); n < len(sealed); n++ {
			if _, err := p.Open(nil, "k", sealed[:n]); !errors.Is(err, ErrForged) {
				t.Errorf("%v: Open of the first %d bytes: %v; want %v", m, n, err, ErrForged)
			}
		}
	}
}

// TestForged flips every bit of a sealed value of 40-odd bytes, splices two
// values together, and opens a value under another key name.
func TestForged(t *testing.T) {
	for _, m := range modes {
		p := newP(t, m, false, "new", "old")
		sealed := p.Seal(nil, "k", []byte("abc"))
		for i := range sealed {
			for bit := range 8 {
				v := bytes.Clone(sealed)
				v[i] ^= 1 << bit
				want := ErrForged
				if i < HeaderLen {
					want = headerFlip[i]
				}
				if got, err := p.Open(nil, "k", v); !errors.Is(err, want) || got != nil {
					t.Errorf("%v: bit %d of byte %d/%d flipped: Open = %q, %v; want nil, %v", m, bit, i, len(sealed), got, err, want)
				}
			}
		}
		tag := map[Mode]int{Sign: SignTag, Encrypt: SealTag}[m]
		byOld := newP(t, m, false, "old").Seal(nil, "k", []byte("abc"))
		other := p.Seal(nil, "k", []byte("xyz"))
		splices := map[string][]byte{
			"header of old, body of new": append(bytes.Clone(byOld[:HeaderLen]), sealed[HeaderLen:]...),
			"header of new, body of old": append(bytes.Clone(sealed[:HeaderLen]), byOld[HeaderLen:]...),
			"front of one, tag of other": append(bytes.Clone(sealed[:len(sealed)-tag]), other[len(other)-tag:]...),
			"front of other, tag of one": append(bytes.Clone(other[:len(other)-tag]), sealed[len(sealed)-tag:]...),
		}
		if m == Encrypt {
			splices["nonce of one, ciphertext of other"] = append(bytes.Clone(sealed[:HeaderLen+NonceLen]), other[HeaderLen+NonceLen:]...)
		}
		for what, v := range splices {
			if _, err := p.Open(nil, "k", v); !errors.Is(err, ErrForged) {
				t.Errorf("%v: %s: %v; want %v", m, what, err, ErrForged)
			}
		}
		for _, name := range []string{"b", "", "k ", "K", "kk"} {
			if _, err := p.Open(nil, name, sealed); !errors.Is(err, ErrForged) {
				t.Errorf("%v: sealed for %q, opened as %q: %v; want %v", m, "k", name, err, ErrForged)
			}
		}
	}
}

func TestRotation(t *testing.T) {
	for _, m := range modes {
		both, old, nw := newP(t, m, false, "new", "old"), newP(t, m, false, "old"), newP(t, m, false, "new")
		for _, tc := range []struct {
			what           string
			sealer, opener *Protector
			wantErr        error
			wantID         []byte // the key id the sealed value carries
		}{
			{"[old] opened by [new old]", old, both, nil, refKey("old", "key-id")[:4]},
			{"[new old] opened by [new]", both, nw, nil, refKey("new", "key-id")[:4]},
			{"[new old] opened by [new old]", both, both, nil, refKey("new", "key-id")[:4]},
			{"[new] opened by [old]", nw, old, ErrUnknownKey, refKey("new", "key-id")[:4]},
		} {
			sealed := tc.sealer.Seal(nil, "k", []byte(pickle))
			if !bytes.Equal(sealed[5:HeaderLen], tc.wantID) {
				t.Errorf("%v %s: key id %x; want %x", m, tc.what, sealed[5:HeaderLen], tc.wantID)
			}
			got, err := tc.opener.Open(nil, "k", sealed)
			if !errors.Is(err, tc.wantErr) || (err == nil && string(got) != pickle) {
				t.Errorf("%v %s: Open = %q, %v; want the pickle or %v", m, tc.what, got, err, tc.wantErr)
			}
		}
	}
}

func TestEncryptHides(t *testing.T) {
	p := newP(t, Encrypt, false, "s")
	plain := []byte("a payload long enough that any copy of it would show: " + pickle)
	a, b := p.Seal(nil, "k", plain), p.Seal(nil, "k", plain)
	if bytes.Equal(a, b) || bytes.Equal(a[HeaderLen:HeaderLen+NonceLen], b[HeaderLen:HeaderLen+NonceLen]) {
		t.Errorf("two encryptions share their nonce or bytes: %x and %x; want them to differ", a, b)
	}
	if bytes.Contains(a, []byte("hello")) || bytes.Contains(b, []byte("hello")) {
		t.Errorf("ciphertexts %x and %x hold the plaintext; want it hidden", a, b)
	}
}

func TestOverhead(t *testing.T) {
	for m, want := range map[Mode]int{Sign: 9 + 32, Encrypt: 9 + 24 + 16} {
		if got := newP(t, m, false, "s").Overhead(); got != want {
			t.Errorf("%v: Overhead() = %d; want %d", m, got, want)
		}
	}
}

func TestIs(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want bool
	}{{"\xC1RCG", true}, {"\xC1RCGs\x00\x00\x00\x00", true}, {"", false}, {"\xC1", false}, {"\xC1RC", false},
		{"\xC1RCg", false}, {"\xC0RCG", false}, {"RCG\xC1", false}, {pickle, false}, {"123", false}} {
		if got := Is([]byte(tc.v)); got != tc.want {
			t.Errorf("Is(%q) = %v; want %v", tc.v, got, tc.want)
		}
	}
}

// TestSignKnownAnswer pins the documented derivation and layout: the
// expected bytes are computed here with crypto/hmac and crypto/sha256 alone.
func TestSignKnownAnswer(t *testing.T) {
	if Salt != "redis_cache_go.value_protection.v1" {
		t.Fatalf("Salt = %q; want the documented salt", Salt)
	}
	for _, tc := range []struct{ secret, name, payload string }{
		{"django-insecure-0123456789", ":1:views.decorators.cache.cache_page", pickle},
		{"ключ", "", ""},
		{"s", strings.Repeat("n", 300), "x"},
	} {
		want := refSign(tc.secret, tc.name, []byte(tc.payload))
		got := newP(t, Sign, false, tc.secret).Seal(nil, tc.name, []byte(tc.payload))
		if !bytes.Equal(got, want) {
			t.Errorf("Seal(%q, %q) with secret %q = %x; want %x", tc.name, tc.payload, tc.secret, got, want)
		}
	}
	// The first vector's key id and tag, as computed once more outside Go (Python's hmac and hashlib).
	got := newP(t, Sign, false, "django-insecure-0123456789").Seal(nil, ":1:views.decorators.cache.cache_page", []byte(pickle))
	if id, tag := hex.EncodeToString(got[5:9]), hex.EncodeToString(got[len(got)-SignTag:]); id != "99eb78a9" ||
		tag != "5b7233598ba3f778a46d837b537cb1dd091102b9b31b2dfb2df8f70d7561ba96" {
		t.Errorf("key id %s, tag %s; want the pinned 99eb78a9, 5b723359…ba96", id, tag)
	}
}

// TestEncryptDerivation opens a value sealed by the package with an AEAD
// keyed by the documented derivation, and the other way round.
func TestEncryptDerivation(t *testing.T) {
	aead, err := chacha20poly1305.NewX(refKey("s", "encrypt"))
	if err != nil {
		t.Fatal(err)
	}
	p := newP(t, Encrypt, false, "s")
	header := refHeader('e', "s")
	sealed := p.Seal(nil, ":1:k", []byte(pickle))
	if !bytes.Equal(sealed[:HeaderLen], header) {
		t.Fatalf("header %x; want %x", sealed[:HeaderLen], header)
	}
	plain, err := aead.Open(nil, sealed[HeaderLen:HeaderLen+NonceLen], sealed[HeaderLen+NonceLen:], refAD(header, ":1:k"))
	if err != nil || string(plain) != pickle {
		t.Errorf("independent Open = %q, %v; want the pickle", plain, err)
	}
	nonce := bytes.Repeat([]byte{7}, NonceLen)
	mine := aead.Seal(append(bytes.Clone(header), nonce...), nonce, []byte(pickle), refAD(header, ":1:k"))
	if got, err := p.Open(nil, ":1:k", mine); err != nil || string(got) != pickle {
		t.Errorf("Open of an independently sealed value = %q, %v; want the pickle", got, err)
	}
}

// TestConcurrent seals and opens with one Protector from many goroutines
// (meant for -race: the pooled HMAC states must not be shared).
func TestConcurrent(t *testing.T) {
	for _, m := range modes {
		p, old := newP(t, m, false, "new", "old"), newP(t, m, false, "old")
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Go(func() {
				buf := make([]byte, 0, 256)
				for i := range 200 {
					name := strings.Repeat("k", g+i%7)
					payload := bytes.Repeat([]byte{0x80, byte(g), byte(i)}, 1+i%40)
					sealed := []*Protector{old, p, p}[i%3].Seal(nil, name, payload)
					got, err := p.Open(buf, name, sealed)
					if err != nil || !bytes.Equal(got, payload) {
						t.Errorf("%v goroutine %d round %d: Open = %d bytes, %v; want the payload", m, g, i, len(got), err)
						return
					}
					if _, err := p.Open(buf, name+"x", sealed); !errors.Is(err, ErrForged) {
						t.Errorf("%v goroutine %d round %d: other name: %v; want %v", m, g, i, err, ErrForged)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}
