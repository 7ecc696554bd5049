// Package codec compresses cache values for storage and recognises, by their
// magic bytes, every compressed format the Django Redis backends write, so a
// value reads back whichever compressor (or none) stored it.
//
// The stored format has no flag byte (it is what django-redis-cache,
// django-redis and Django's RedisCache store): a plain integer is decimal
// text, anything else is compress(serialize(value)). So reading sniffs:
//
//	c, err := codec.New(codec.Options{Format: codec.Zstd, MinLen: 16})
//	stored, err := c.Encode(pickled)        // compressed when len >= MinLen
//	value, format, err := c.Decode(stored)  // any known format, or stored as is
//
// Only framed formats are written (zlib, gzip, bzip2, xz, zstd frame, lz4
// frame, s2/snappy stream): a raw block has no magic and could not be told
// apart from an uncompressed value. A value that is a decimal integer is
// never compressed, so Redis INCR keeps working on it.
//
// A Codec is safe for concurrent use; encoders and decoders are pooled and
// reused across calls.
package codec

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"
)

// Format names a compression format.
type Format uint8

// The formats, in the order Sniff knows them. None means "not compressed".
const (
	None Format = iota
	Zlib
	Gzip
	Bzip2
	LZMA // the xz container, as Python's lzma.compress writes it
	Zstd
	LZ4 // the lz4 frame format
	S2  // the s2 stream format; also reads snappy framed streams
)

// formatNames maps each Format to its canonical name; the Python package
// sends these names in the configuration document.
var formatNames = [...]string{None: "none", Zlib: "zlib", Gzip: "gzip", Bzip2: "bz2", LZMA: "lzma", Zstd: "zstd", LZ4: "lz4", S2: "s2"}

// aliases are further names ParseFormat accepts.
var aliases = map[string]Format{"": None, "identity": None, "noop": None, "bzip2": Bzip2, "xz": LZMA, "zstandard": Zstd, "snappy": S2}

// String returns the canonical name of f ("zlib", "bz2", …).
func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// Formats lists every compression format (None excluded) in a fixed order.
func Formats() []Format { return []Format{Zlib, Gzip, Bzip2, LZMA, Zstd, LZ4, S2} }

// ParseFormat returns the Format named name (case-insensitive): a canonical
// name from Format.String or an alias such as "xz", "bzip2", "identity".
func ParseFormat(name string) (Format, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	for f, s := range formatNames {
		if s == n {
			return Format(f), nil
		}
	}
	if f, ok := aliases[n]; ok {
		return f, nil
	}
	return None, fmt.Errorf("unknown compressor %q (known: none, zlib, gzip, bz2, lzma, zstd, lz4, s2)", name)
}

// LevelRange returns the levels Options.Level accepts for f besides 0 (the
// format's default); both are 0 for None.
func LevelRange(f Format) (lo, hi int) {
	switch f {
	case Zlib, Gzip, Bzip2:
		return 1, 9
	case LZMA:
		return 1, 9
	case Zstd:
		return 1, 22
	case LZ4:
		return 1, 9
	case S2:
		return 1, 3
	}
	return 0, 0
}

// DefaultLevel returns the level used for f when Options.Level is 0.
func DefaultLevel(f Format) int {
	switch f {
	case Zlib, Gzip:
		return 6
	case Bzip2:
		return 9
	case LZMA:
		return 6
	case Zstd:
		return 3
	case LZ4:
		return 0 // lz4's fast mode
	case S2:
		return 1
	}
	return 0
}

// Options configures a Codec. The zero value stores every value as given and
// reads every known format. Defaults are applied in one place, withDefaults.
type Options struct {
	// Format is the compressor used for writing. Default: None.
	Format Format
	// Level is the compression level, within LevelRange(Format); 0 picks
	// DefaultLevel(Format).
	Level int
	// MinLen: values shorter than MinLen bytes are stored uncompressed.
	// Default 0: every value is compressed, as django-redis-cache did.
	MinLen int
	// MaxDecodedLen bounds what Decode inflates a value to, so a small
	// hostile payload cannot exhaust memory. Default: 512 MiB, the largest
	// string Redis stores.
	MaxDecodedLen int
	// MaxRatio bounds what Decode inflates a value to relative to its
	// stored size: a value of n stored bytes decodes to at most
	// max(DecodeFloor(format), MaxRatio*n) bytes (and MaxDecodedLen). The
	// work of decompressing is proportional to its output, so this is what
	// bounds the CPU a small hostile value (a "decompression bomb") costs:
	// about 0.1 s for the floor, on the machines measured, plus what a value
	// MaxRatio times its stored size costs. Real data compresses far less
	// than 64:1 above the floors. Default: 64; negative: no ratio bound.
	MaxRatio int
}

// Defaults of Options.MaxDecodedLen and Options.MaxRatio.
const (
	DefaultMaxDecodedLen = 512 << 20
	DefaultMaxRatio      = 64
)

// decodeFloors: a value may always decode to this many bytes, whatever its
// stored size. Each is about 0.1 s of output at the speed the format's
// decoder inflates a bomb (all zeros, the best case for a bomb) at on a 2
// vCPU AMD EPYC, measured in MB/s of output: zlib 556, gzip 774, bzip2
// 177, xz 98, zstd 774, lz4 1196, s2 354.
var decodeFloors = [...]int{Zlib: 32 << 20, Gzip: 32 << 20, Bzip2: 16 << 20, LZMA: 8 << 20, Zstd: 64 << 20, LZ4: 64 << 20, S2: 32 << 20}

// DecodeFloor returns the size a value of format f may always decode to
// (see Options.MaxRatio); 0 for None.
func DecodeFloor(f Format) int {
	if f == None || int(f) >= len(decodeFloors) {
		return 0
	}
	return decodeFloors[f]
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.Level == 0 {
		o.Level = DefaultLevel(o.Format)
	}
	if o.MaxDecodedLen <= 0 {
		o.MaxDecodedLen = DefaultMaxDecodedLen
	}
	if o.MaxRatio == 0 {
		o.MaxRatio = DefaultMaxRatio
	}
	return o
}

// DecodeLimit returns the most a value of storedLen bytes in format f may
// decode to under these options (defaults applied): see MaxRatio.
func (o Options) DecodeLimit(f Format, storedLen int) int {
	o = o.withDefaults()
	limit := o.MaxDecodedLen
	if o.MaxRatio > 0 && storedLen < limit/o.MaxRatio {
		limit = max(DecodeFloor(f), o.MaxRatio*storedLen)
	}
	return min(limit, o.MaxDecodedLen)
}

// validate reports the first invalid field of o (after withDefaults).
func (o Options) validate() error {
	if int(o.Format) >= len(formatNames) {
		return fmt.Errorf("unknown compressor %v", o.Format)
	}
	if o.Format != None {
		lo, hi := LevelRange(o.Format)
		if (o.Level < lo || o.Level > hi) && o.Level != DefaultLevel(o.Format) {
			return fmt.Errorf("%v level must be from %d to %d, not %d", o.Format, lo, hi, o.Level)
		}
	}
	if o.MinLen < 0 {
		return fmt.Errorf("minimum length to compress must be >= 0, not %d", o.MinLen)
	}
	return nil
}

// Codec encodes values for storage and decodes stored values.
type Codec struct {
	opts Options
	enc  encoder // nil for None
}

// New returns a Codec for opts, or an error naming the invalid option.
func New(opts Options) (*Codec, error) {
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	c := &Codec{opts: o}
	if o.Format != None {
		enc, err := newEncoder(o.Format, o.Level)
		if err != nil {
			return nil, err
		}
		c.enc = enc
	}
	return c, nil
}

// Options returns the options in effect, defaults applied.
func (c *Codec) Options() Options { return c.opts }

// Encode returns the form of value to store: value itself when the codec
// has no compressor, when value is shorter than MinLen, or when it is a
// decimal integer (so INCR keeps working); else its compressed form in a
// new slice.
func (c *Codec) Encode(value []byte) ([]byte, error) {
	stored, _, err := c.EncodeTo(nil, value)
	return stored, err
}

// EncodeTo is Encode writing a compressed result into dst's storage
// (appended to dst[:0], grown when too small), so a caller can reuse one
// buffer across calls. compressed is false when the result is value itself
// (not copied: no compressor, shorter than MinLen, or a decimal integer).
func (c *Codec) EncodeTo(dst, value []byte) (stored []byte, compressed bool, err error) {
	if c.enc == nil || len(value) < c.opts.MinLen || IsDecimalInt(value) {
		return value, false, nil
	}
	stored, err = c.enc.encode(dst[:0], value)
	return stored, err == nil, err
}

// Decode returns the value stored as stored. When stored starts with the
// magic bytes of a known format (see Sniff) and decodes cleanly as that
// format, the result is the decompressed value and that format. When no
// magic matches, it is stored itself and None. When a magic matches but the
// stream is corrupt, truncated, followed by trailing bytes, or larger than
// its limit (Options.DecodeLimit), the error (a *DecodeError) says so, and
// stored comes back unchanged with None: text serializers can legitimately
// write values that begin like a compressed stream ("x^…" looks like zlib),
// so the caller decides whether the value is usable as it is. The output
// grows as it is decoded and never past the limit; a value that would
// inflate past it is refused once the limit is reached, or before any
// work when its container states its size (xz, zstd).
func (c *Codec) Decode(stored []byte) ([]byte, Format, error) {
	return decode(nil, stored, c.options())
}

// DecodeTo is Decode writing a decompressed result into dst's storage
// (appended to dst[:0]) when it fits there, so a caller can reuse one
// buffer, or decode straight into memory of its own sized by ContentSize.
// A result that does not fit is in a new slice. Uncompressed input comes
// back as stored itself; on error the contents of dst are undefined.
func (c *Codec) DecodeTo(dst, stored []byte) ([]byte, Format, error) {
	return decode(dst[:0], stored, c.options())
}

// ContentSize returns the decompressed size stated in the header of stored
// (the content size of a zstd frame, which zstd writers record), or false
// when stored states none. It is a hint for sizing a destination: a stream
// of several frames decodes to more, and a hostile header can say anything.
func ContentSize(stored []byte) (n int, ok bool) {
	if Sniff(stored) != Zstd {
		return 0, false
	}
	var h zstd.Header
	if h.Decode(stored) != nil || !h.HasFCS || h.FrameContentSize > uint64(DefaultMaxDecodedLen) {
		return 0, false
	}
	return int(h.FrameContentSize), true
}

func (c *Codec) options() Options {
	if c == nil {
		return Options{}
	}
	return c.opts
}

// Decode decodes stored with the default options; see Codec.Decode.
func Decode(stored []byte) ([]byte, Format, error) { return decode(nil, stored, Options{}) }

func decode(dst, stored []byte, o Options) ([]byte, Format, error) {
	f := Sniff(stored)
	if f == None {
		return stored, None, nil
	}
	limit := o.DecodeLimit(f, len(stored))
	out, err := decoders[f](dst, stored, limit)
	if err == errTooLarge {
		err = &LimitError{Limit: limit}
	}
	if err != nil {
		return stored, None, &DecodeError{Format: f, Err: err}
	}
	return out, f, nil
}

// inflated counts the bytes every decoder produced (refused values too).
var inflated atomic.Uint64

// Inflated returns how many bytes the decoders of this process have
// produced so far, including those of values refused for their size: the
// measure of decompression work.
func Inflated() uint64 { return inflated.Load() }

// DecodeError reports a value that starts with a format's magic bytes but
// does not decode as that format.
type DecodeError struct {
	Format Format
	Err    error
}

// Error describes the failure: "stored value starts like a zlib stream but does not decode: …".
func (e *DecodeError) Error() string {
	return fmt.Sprintf("stored value starts like a %v stream but does not decode: %v", e.Format, e.Err)
}

// Unwrap returns the decoder's error.
func (e *DecodeError) Unwrap() error { return e.Err }

// errTooLarge is what a decoder returns for a value that would inflate
// past its limit; decode turns it into a *LimitError.
var errTooLarge = errors.New("inflates past its decode limit")

// LimitError is the reason (DecodeError.Err) of a value refused because it
// would inflate past its limit (Options.DecodeLimit).
type LimitError struct{ Limit int }

// Unwrap returns the error decoders report for it.
func (e *LimitError) Unwrap() error { return errTooLarge }

// Error says so, with the limit.
func (e *LimitError) Error() string {
	return fmt.Sprintf("it inflates past its decode limit of %d bytes (MaxRatio times its stored size, at least the format's floor)", e.Limit)
}

// errTrailing is returned when bytes follow the end of a compressed stream.
var errTrailing = errors.New("bytes follow the end of the stream")

// IsDecimalInt reports whether b is an optional '-' followed by one or more
// ASCII digits: the form Django backends store plain ints in.
func IsDecimalInt(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 {
		return false
	}
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			return false
		}
	}
	return true
}

// Sniff returns the format whose magic bytes start stored, or None:
// zlib 78 01|5e|9c|da (the headers zlib writes), gzip 1f 8b 08, bzip2
// "BZh1"…"BZh9", xz fd 37 7a 58 5a 00, zstd 28 b5 2f fd, lz4 frame
// 04 22 4d 18, s2/snappy stream ff 06 00 00 "S2sTwO"|"sNaPpY". No two
// magics overlap, so at most one format matches.
func Sniff(stored []byte) Format {
	if len(stored) < 2 {
		return None
	}
	switch stored[0] {
	case 0x78:
		switch stored[1] {
		case 0x01, 0x5e, 0x9c, 0xda:
			return Zlib
		}
	case 0x1f:
		if len(stored) >= 3 && stored[1] == 0x8b && stored[2] == 0x08 {
			return Gzip
		}
	case 'B':
		if len(stored) >= 4 && stored[1] == 'Z' && stored[2] == 'h' && stored[3] >= '1' && stored[3] <= '9' {
			return Bzip2
		}
	case 0xfd:
		if bytes.HasPrefix(stored, magicXZ) {
			return LZMA
		}
	case 0x28:
		if bytes.HasPrefix(stored, magicZstd) {
			return Zstd
		}
	case 0x04:
		if bytes.HasPrefix(stored, magicLZ4) {
			return LZ4
		}
	case 0xff:
		if bytes.HasPrefix(stored, magicS2) || bytes.HasPrefix(stored, magicSnappy) {
			return S2
		}
	}
	return None
}

var (
	magicXZ     = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	magicZstd   = []byte{0x28, 0xb5, 0x2f, 0xfd}
	magicLZ4    = []byte{0x04, 0x22, 0x4d, 0x18}
	magicS2     = []byte("\xff\x06\x00\x00S2sTwO")
	magicSnappy = []byte("\xff\x06\x00\x00sNaPpY")
)
