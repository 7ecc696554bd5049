package codec

import (
	"bytes"
	stdbzip2 "compress/bzip2"
	stdgzip "compress/gzip"
	stdzlib "compress/zlib"
	"io"
	"testing"
)

// FuzzDecode: any stored bytes decode without a panic, and a value is only
// ever decoded as the one format whose magic it starts with. For zlib, gzip
// and bzip2 an independent decoder (the standard library) must agree.
// Seeds: testdata/fuzz/FuzzDecode (streams of every format, pickles, ints,
// text that starts like a magic).
func FuzzDecode(f *testing.F) {
	f.Add([]byte("x^2\n...\n"))
	f.Add([]byte("\x80\x05K\x01."))
	f.Fuzz(func(t *testing.T, stored []byte) {
		got, format, err := Decode(stored)
		if err != nil {
			de, ok := err.(*DecodeError)
			if !ok || de.Format != Sniff(stored) || format != None || !bytes.Equal(got, stored) {
				t.Fatalf("Decode error %v (format %v): want a *DecodeError of %v with the input back unchanged", err, format, Sniff(stored))
			}
			return
		}
		if format == None {
			if Sniff(stored) != None || !bytes.Equal(got, stored) {
				t.Fatalf("Decode = None for input sniffed as %v, or changed the input", Sniff(stored))
			}
			return
		}
		if Sniff(stored) != format {
			t.Fatalf("Decode format %v; Sniff says %v", format, Sniff(stored))
		}
		// The capi get path: decode into a destination sized by the header
		// (whatever it claims) and into a reused buffer; both agree with Decode.
		n, _ := ContentSize(stored)
		for _, dst := range [][]byte{make([]byte, 0, min(n, 1<<20)), make([]byte, 5, 64)} {
			if into, f2, err := (*Codec)(nil).DecodeTo(dst, stored); err != nil || f2 != format || !bytes.Equal(into, got) {
				t.Fatalf("DecodeTo into cap %d = %d bytes, %v, %v; Decode gave %d bytes, %v", cap(dst), len(into), f2, err, len(got), format)
			}
		}
		if want, ok := reference(format, stored); ok && !bytes.Equal(got, want) {
			t.Fatalf("%v: Decode gave %d bytes; the standard library %d bytes", format, len(got), len(want))
		}
	})
}

// reference decodes stored with the standard library, for the formats it
// has; ok is false for the others.
func reference(f Format, stored []byte) ([]byte, bool) {
	var r io.Reader
	var err error
	switch f {
	case Zlib:
		r, err = stdzlib.NewReader(bytes.NewReader(stored))
	case Gzip:
		r, err = stdgzip.NewReader(bytes.NewReader(stored))
	case Bzip2:
		r = stdbzip2.NewReader(bytes.NewReader(stored))
	default:
		return nil, false
	}
	if err != nil {
		return nil, false
	}
	out, err := io.ReadAll(io.LimitReader(r, DefaultMaxDecodedLen))
	return out, err == nil
}

// FuzzRoundTrip: whatever the value, compressor, level and threshold, the
// stored form decodes back to the value, as the writer's format or as
// uncompressed — never as another format.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("\x80\x05\x95\x07\x00\x00\x00\x00\x00\x00\x00\x8c\x03abc\x94."), uint8(0), uint8(0), uint16(0))
	f.Add([]byte("12345"), uint8(3), uint8(9), uint16(1))
	f.Add(bytes.Repeat([]byte("ab"), 600), uint8(6), uint8(2), uint16(100))
	f.Fuzz(func(t *testing.T, value []byte, which, level uint8, minLen uint16) {
		formats := Formats()
		format := formats[int(which)%len(formats)]
		lo, hi := LevelRange(format)
		c, err := New(Options{Format: format, Level: lo + int(level)%(hi-lo+1), MinLen: int(minLen)})
		if err != nil {
			t.Fatal(err)
		}
		stored, err := c.Encode(value)
		if err != nil {
			t.Fatal(err)
		}
		// EncodeTo into a used, too-small buffer writes the same bytes.
		if into, _, err := c.EncodeTo(make([]byte, 3, 8), value); err != nil || !bytes.Equal(into, stored) {
			t.Fatalf("%v: EncodeTo gave %d bytes (error %v); Encode %d bytes", format, len(into), err, len(stored))
		}
		got, decodedAs, err := c.Decode(stored)
		if bytes.Equal(stored, value) {
			// Stored as given. A value that is itself a valid stream of a
			// known format is ambiguous without a flag byte (as in every
			// peer); anything else must come back untouched.
			if decodedAs != None && Sniff(value) != None {
				return
			}
			if decodedAs != None || !bytes.Equal(got, value) {
				t.Fatalf("uncompressed %q decoded as %v to %q", value, decodedAs, got)
			}
			return
		}
		if err != nil || decodedAs != format || !bytes.Equal(got, value) {
			t.Fatalf("%v: round trip of %d bytes gave %d bytes as %v, error %v", format, len(value), len(got), decodedAs, err)
		}
	})
}
