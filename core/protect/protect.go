// Package protect signs or encrypts stored cache values so that a value
// nobody with the key wrote is never handed to a deserializer.
//
// Anyone who can write to Redis can put a pickle there that runs code when
// a Django worker reads it. A protected cache stores
//
//	C1 'R' 'C' 'G' | mode | key id (4) | body
//
// where mode is 's' (sign: body = payload | HMAC-SHA256 tag, 32 bytes) or
// 'e' (encrypt: body = XChaCha20-Poly1305 nonce (24) | ciphertext | tag
// (16)). The tag covers the 9-byte header, the Redis key name and the
// payload (encrypt: the header and key name are associated data), so a
// value copied to another key does not open. 0xC1 starts no pickle, no
// UTF-8 text (JSON), no compressed format a Django backend writes and no
// MessagePack value (it is the one byte MessagePack never uses), so a
// protected value is told from any other by its first byte.
//
// Keys come from secrets (Django's SECRET_KEY and SECRET_KEY_FALLBACKS, or
// PROTECTION_KEY): for a secret s, base = SHA-256(Salt | s), the sign key
// HMAC-SHA256(base, "sign"), the encrypt key HMAC-SHA256(base, "encrypt")
// and the key id the first 4 bytes of HMAC-SHA256(base, "key-id"). The
// first secret writes; every secret reads, chosen by the key id.
//
// Plain integers (an optional '-' and 1 to 19 digits) are stored as they
// are, so Redis INCR works on them; a reader accepts such a value without
// a header, since it is handed back as an int, never deserialized.
package protect

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/crypto/chacha20poly1305"
)

// Mode is how values are protected.
type Mode uint8

// The modes. Off stores values as they are.
const (
	Off     Mode = iota
	Sign         // HMAC-SHA256 over header, key name and payload
	Encrypt      // XChaCha20-Poly1305 with header and key name as associated data
)

// String returns the mode's option name ("sign", "encrypt", "" for Off).
func (m Mode) String() string {
	switch m {
	case Sign:
		return "sign"
	case Encrypt:
		return "encrypt"
	}
	return ""
}

// ParseMode returns the Mode named name ("sign", "encrypt"; "" and "none"
// are Off).
func ParseMode(name string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "none", "off":
		return Off, nil
	case "sign":
		return Sign, nil
	case "encrypt":
		return Encrypt, nil
	}
	return Off, fmt.Errorf("unknown value protection %q (known: sign, encrypt)", name)
}

// Salt is the documented prefix of the key derivation (see the package
// comment). Changing it changes every key.
const Salt = "redis_cache_go.value_protection.v1"

// Magic starts every protected value.
var Magic = [4]byte{0xC1, 'R', 'C', 'G'}

// Sizes of the stored form.
const (
	HeaderLen = 9  // magic, mode, key id
	SignTag   = 32 // HMAC-SHA256
	NonceLen  = chacha20poly1305.NonceSizeX
	SealTag   = chacha20poly1305.Overhead
	maxIntLen = 20 // "-" and 19 digits: every int64
)

const (
	modeSign    = 's'
	modeEncrypt = 'e'
)

// The reasons Open refuses a value; every error Open returns wraps one.
var (
	ErrUnprotected = errors.New("the value has no protection header")
	ErrMode        = errors.New("the value is protected with another mode")
	ErrUnknownKey  = errors.New("the value's key id matches no configured secret")
	ErrTruncated   = errors.New("the value is too short for its header")
	ErrForged      = errors.New("the value's tag does not verify (tampered, or written for another key)")
)

// Options configures a Protector.
type Options struct {
	// Mode is Sign or Encrypt. Default: Off (New returns nil).
	Mode Mode
	// Secrets are the secrets keys are derived from: the first writes,
	// all read. At least one, none empty, when Mode is not Off.
	Secrets []string
	// AcceptUnprotected makes Open hand back a value without a protection
	// header as it is (a rollout period). Default: false (refused).
	AcceptUnprotected bool
}

// Protector seals and opens values. It is safe for concurrent use.
type Protector struct {
	mode   Mode
	keys   []key // keys[0] writes
	accept bool
}

type key struct {
	id   [4]byte
	macs *sync.Pool // of *macState: HMAC-SHA256 keyed with the sign key
	aead interface {
		Seal(dst, nonce, plaintext, ad []byte) []byte
		Open(dst, nonce, ciphertext, ad []byte) ([]byte, error)
	}
}

// New returns the Protector of opts, or nil when opts.Mode is Off.
func New(opts Options) (*Protector, error) {
	if opts.Mode == Off {
		return nil, nil
	}
	if opts.Mode != Sign && opts.Mode != Encrypt {
		return nil, fmt.Errorf("unknown value protection mode %d", opts.Mode)
	}
	if len(opts.Secrets) == 0 {
		return nil, errors.New("value protection needs a secret (SECRET_KEY or PROTECTION_KEY)")
	}
	p := &Protector{mode: opts.Mode, accept: opts.AcceptUnprotected}
	for i, s := range opts.Secrets {
		if s == "" {
			return nil, fmt.Errorf("value protection secret number %d is empty", i+1)
		}
		k, err := derive(opts.Mode, s)
		if err != nil {
			return nil, err
		}
		p.keys = append(p.keys, k)
	}
	return p, nil
}

func derive(m Mode, secret string) (key, error) {
	base := sha256.Sum256([]byte(Salt + secret))
	sub := func(label string) []byte {
		h := hmac.New(sha256.New, base[:])
		h.Write([]byte(label))
		return h.Sum(nil)
	}
	var k key
	copy(k.id[:], sub("key-id"))
	if m == Sign {
		sk := sub("sign")
		k.macs = &sync.Pool{New: func() any { return &macState{h: hmac.New(sha256.New, sk)} }}
		return k, nil
	}
	aead, err := chacha20poly1305.NewX(sub("encrypt"))
	if err != nil {
		return k, err
	}
	k.aead = aead
	return k, nil
}

// Mode returns p's mode (Off for a nil p).
func (p *Protector) Mode() Mode {
	if p == nil {
		return Off
	}
	return p.mode
}

// Raw reports whether v is stored as it is: a decimal int64 (an optional
// '-' and 1 to 19 digits, within the int64 range), the integers INCR can
// change.
func Raw(v []byte) bool {
	if len(v) == 0 || len(v) > maxIntLen {
		return false
	}
	d := v
	if d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 19 {
		return false
	}
	for _, ch := range d {
		if ch < '0' || ch > '9' {
			return false
		}
	}
	if len(d) < 19 {
		return true
	}
	_, err := strconv.ParseInt(unsafe.String(unsafe.SliceData(v), len(v)), 10, 64)
	return err == nil
}

// Is reports whether v starts with the protection magic.
func Is(v []byte) bool {
	return len(v) >= len(Magic) && v[0] == Magic[0] && v[1] == Magic[1] && v[2] == Magic[2] && v[3] == Magic[3]
}

// Overhead returns how many bytes Seal adds to a payload.
func (p *Protector) Overhead() int {
	if p.mode == Sign {
		return HeaderLen + SignTag
	}
	return HeaderLen + NonceLen + SealTag
}

// Seal appends the protected form of payload, stored at the Redis key
// name, to dst and returns it; a Raw payload is appended as it is.
// payload and dst must not overlap.
func (p *Protector) Seal(dst []byte, name string, payload []byte) []byte {
	if Raw(payload) {
		return append(dst, payload...)
	}
	k := &p.keys[0]
	start := len(dst)
	dst = append(dst, Magic[:]...)
	if p.mode == Sign {
		dst = append(dst, modeSign)
		dst = append(dst, k.id[:]...)
		dst = append(dst, payload...)
		m := k.macs.Get().(*macState)
		dst = append(dst, m.tag(dst[start:start+HeaderLen], name, payload)...)
		k.macs.Put(m)
		return dst
	}
	dst = append(dst, modeEncrypt)
	dst = append(dst, k.id[:]...)
	header := len(dst)
	dst = append(dst, make([]byte, NonceLen)...)
	nonce := dst[header : header+NonceLen]
	_, _ = rand.Read(nonce) // never fails: since Go 1.24 it does not return when the system's source fails
	ad := associated(dst[start:start+HeaderLen], name)
	dst = k.aead.Seal(dst, nonce, payload, *ad)
	adBufs.Put(ad)
	return dst
}

// Open returns the payload of stored, read from the Redis key name: the
// bytes between header and tag of a signed value (a slice of stored, not
// copied), or the plaintext of an encrypted one appended to dst[:0]. A Raw
// value comes back as it is; so does any value without the protection
// header when AcceptUnprotected is set. Anything else is an error wrapping
// one of the Err* reasons, and nothing of it should be used.
func (p *Protector) Open(dst []byte, name string, stored []byte) ([]byte, error) {
	if !Is(stored) {
		if p.accept || Raw(stored) {
			return stored, nil
		}
		return nil, ErrUnprotected
	}
	if len(stored) < HeaderLen {
		return nil, ErrTruncated
	}
	mode := stored[4]
	if (p.mode == Sign && mode != modeSign) || (p.mode == Encrypt && mode != modeEncrypt) {
		return nil, fmt.Errorf("%w (%q; this cache uses %s)", ErrMode, mode, p.mode)
	}
	var id [4]byte
	copy(id[:], stored[5:HeaderLen])
	header := stored[:HeaderLen]
	found := false
	for i := range p.keys {
		k := &p.keys[i]
		if k.id != id {
			continue
		}
		found = true
		if p.mode == Sign {
			if len(stored) < HeaderLen+SignTag {
				return nil, ErrTruncated
			}
			payload := stored[HeaderLen : len(stored)-SignTag]
			m := k.macs.Get().(*macState)
			ok := subtle.ConstantTimeCompare(m.tag(header, name, payload), stored[len(stored)-SignTag:]) == 1
			k.macs.Put(m)
			if ok {
				return payload, nil
			}
			continue // another secret with the same id may have written it
		}
		if len(stored) < HeaderLen+NonceLen+SealTag {
			return nil, ErrTruncated
		}
		nonce := stored[HeaderLen : HeaderLen+NonceLen]
		ad := associated(header, name)
		plain, err := k.aead.Open(dst[:0], nonce, stored[HeaderLen+NonceLen:], *ad)
		adBufs.Put(ad)
		if err == nil {
			return plain, nil
		}
	}
	if !found {
		return nil, ErrUnknownKey
	}
	return nil, ErrForged
}

// macState is a keyed HMAC with the memory one tag needs (pooled: a tag
// costs no allocation).
type macState struct {
	h   hash.Hash
	buf []byte // header, name length and name: one Write
	sum [SignTag]byte
}

// tag returns the sign tag (in m's memory, valid until m is reused) over
// the header, the key name's length (4 bytes, big-endian), the key name and
// the payload.
func (m *macState) tag(header []byte, name string, payload []byte) []byte {
	m.h.Reset()
	b := append(m.buf[:0], header...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(name)))
	b = append(b, name...)
	if cap(b) <= 4096 {
		m.buf = b // keep it for the next tag unless a huge name grew it
	}
	m.h.Write(b)
	m.h.Write(payload)
	return m.h.Sum(m.sum[:0])
}

// adBufs pools the associated data buffers of encrypt (a seal or open
// costs no allocation for it).
var adBufs = sync.Pool{New: func() any { return new([]byte) }}

// associated returns the AEAD's associated data, what a sign tag covers
// besides the payload, in a buffer from adBufs (put it back after use).
func associated(header []byte, name string) *[]byte {
	b := adBufs.Get().(*[]byte)
	ad := append((*b)[:0], header...)
	ad = binary.BigEndian.AppendUint32(ad, uint32(len(name)))
	*b = append(ad, name...)
	return b
}

// Current reports whether stored is protected in p's mode with the key
// that writes (so sealing its payload again changes nothing but, when
// encrypting, the nonce).
func (p *Protector) Current(stored []byte) bool {
	if p == nil || !Is(stored) || len(stored) < HeaderLen {
		return false
	}
	mode := byte(modeSign)
	if p.mode == Encrypt {
		mode = modeEncrypt
	}
	return stored[4] == mode && [4]byte(stored[5:HeaderLen]) == p.keys[0].id
}

// Fingerprint returns a digest of secret that tells secrets apart without
// revealing them (SHA-256 of Salt, "fingerprint" and the secret, 16 bytes).
func Fingerprint(secret string) [16]byte {
	sum := sha256.Sum256([]byte(Salt + "fingerprint" + secret))
	return [16]byte(sum[:16])
}
