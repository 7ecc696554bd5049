package codec

import (
	"bytes"
	stdbzip2 "compress/bzip2"
	stdgzip "compress/gzip"
	stdzlib "compress/zlib"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
)

// samples are values of the sizes the cache sees: empty, one byte, short
// pickles, and large compressible and incompressible ones.
func samples(t testing.TB) map[string][]byte {
	random := make([]byte, 300<<10)
	if _, err := rand.Read(random); err != nil {
		t.Fatal(err)
	}
	return map[string][]byte{
		"empty":             {},
		"one byte":          {0x80},
		"short pickle":      []byte("\x80\x05\x95\x07\x00\x00\x00\x00\x00\x00\x00\x8c\x03abc\x94."),
		"unicode":           []byte(strings.Repeat("héllo wörld ☃ 日本語 ", 40)),
		"compressible 300K": bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog. "), 300<<10/45),
		"random 300K":       random,
	}
}

func TestRoundTripEveryFormatAndLevel(t *testing.T) {
	for _, f := range Formats() {
		lo, hi := LevelRange(f)
		for _, level := range []int{0, lo, hi} {
			c, err := New(Options{Format: f, Level: level})
			if err != nil {
				t.Fatalf("New(%v, level %d): %v", f, level, err)
			}
			for name, v := range samples(t) {
				stored, err := c.Encode(v)
				if err != nil {
					t.Fatalf("%v/%d/%s: Encode: %v", f, level, name, err)
				}
				if got := Sniff(stored); got != f {
					t.Fatalf("%v/%d/%s: Sniff(encoded) = %v; want %v", f, level, name, got, f)
				}
				got, format, err := c.Decode(stored)
				if err != nil || format != f || !bytes.Equal(got, v) {
					t.Fatalf("%v/%d/%s: Decode = %d bytes, %v, %v; want %d bytes, %v, nil", f, level, name, len(got), format, err, len(v), f)
				}
			}
		}
	}
}

func TestEncodeLeavesShortValuesAndIntegersAlone(t *testing.T) {
	c, err := New(Options{Format: Zlib, MinLen: 10})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		value      string
		compressed bool
	}{
		{"123456789", false},               // shorter than MinLen
		{"abcdefghi", false},               // MinLen - 1
		{"abcdefghij", true},               // MinLen
		{"12345678901234567890123", false}, // a decimal int, however long
		{"-1234567890123456789012", false}, // negative too
		{"+1234567890123456789012", true},  // not how ints are stored
		{" 123456789012345678901 ", true},  // nor this
		{"1234567890.1234567890123", true}, // a float's text
	}
	for _, tt := range tests {
		stored, err := c.Encode([]byte(tt.value))
		if err != nil {
			t.Fatal(err)
		}
		if got := Sniff(stored) == Zlib; got != tt.compressed {
			t.Errorf("Encode(%q) compressed = %v; want %v", tt.value, got, tt.compressed)
		}
	}
}

func TestSniff(t *testing.T) {
	tests := []struct {
		stored string
		want   Format
	}{
		{"", None},
		{"x", None},
		{"x\x9c", Zlib},
		{"x\x01", Zlib},
		{"x^", Zlib},
		{"x\xda", Zlib},
		{"x\x00", None},
		{"\x1f\x8b\x08", Gzip},
		{"\x1f\x8b", None},
		{"BZh9", Bzip2},
		{"BZh1", Bzip2},
		{"BZh0", None},
		{"BZh", None},
		{"\xfd7zXZ\x00", LZMA},
		{"\xfd7zXZ", None},
		{"\x28\xb5\x2f\xfd", Zstd},
		{"\x04\x22\x4d\x18", LZ4},
		{"\xff\x06\x00\x00S2sTwO", S2},
		{"\xff\x06\x00\x00sNaPpY", S2},
		{"\xff\x06\x00\x00", None},
		{"\x80\x05\x95", None}, // pickle
		{"123", None},          // int
		{"{\"a\": 1}", None},   // JSON
	}
	for _, tt := range tests {
		if got := Sniff([]byte(tt.stored)); got != tt.want {
			t.Errorf("Sniff(%q) = %v; want %v", tt.stored, got, tt.want)
		}
	}
}

func TestDecodeRefusesCorruptStreamsAndReturnsTheInput(t *testing.T) {
	v := bytes.Repeat([]byte("cache value "), 100)
	for _, f := range Formats() {
		c, _ := New(Options{Format: f})
		stored, _ := c.Encode(v)
		for name, bad := range map[string][]byte{
			"truncated": stored[:len(stored)/2],
			"trailing":  append(append([]byte{}, stored...), "junk"...),
			"flipped":   flip(stored, len(stored)-5),
		} {
			got, format, err := c.Decode(bad)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Errorf("%v %s: Decode error = %v; want a *DecodeError", f, name, err)
				continue
			}
			if de.Format != f || format != None || !bytes.Equal(got, bad) {
				t.Errorf("%v %s: Decode = %v, error format %v; want the input back, None, error format %v", f, name, format, de.Format, f)
			}
		}
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte{}, b...)
	c[i] ^= 0x55
	return c
}

func TestDecodeRefusesValuesLargerThanTheLimit(t *testing.T) {
	big := make([]byte, 1<<20)
	for _, f := range Formats() {
		w, _ := New(Options{Format: f})
		stored, _ := w.Encode(big)
		r, _ := New(Options{MaxDecodedLen: 1000})
		if _, _, err := r.Decode(stored); !errors.Is(err, errTooLarge) {
			t.Errorf("%v: Decode of 1 MiB with a 1000-byte limit: error = %v; want errTooLarge", f, err)
		}
	}
}

// The standard library reads what the Go encoders write for the formats it knows.
func TestStandardLibraryReadsOurZlibGzipBzip2(t *testing.T) {
	v := samples(t)["compressible 300K"]
	readers := map[Format]func(io.Reader) (io.Reader, error){
		Zlib:  func(r io.Reader) (io.Reader, error) { return stdzlib.NewReader(r) },
		Gzip:  func(r io.Reader) (io.Reader, error) { return stdgzip.NewReader(r) },
		Bzip2: func(r io.Reader) (io.Reader, error) { return stdbzip2.NewReader(r), nil },
	}
	for f, open := range readers {
		c, _ := New(Options{Format: f})
		stored, _ := c.Encode(v)
		r, err := open(bytes.NewReader(stored))
		if err != nil {
			t.Fatalf("%v: %v", f, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, v) {
			t.Errorf("%v: stdlib read %d bytes, %v; want %d bytes", f, len(got), err, len(v))
		}
	}
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		name string
		want Format
		ok   bool
	}{
		{"zlib", Zlib, true}, {"ZLIB", Zlib, true}, {"gzip", Gzip, true}, {"bz2", Bzip2, true},
		{"bzip2", Bzip2, true}, {"lzma", LZMA, true}, {"xz", LZMA, true}, {"zstd", Zstd, true},
		{"lz4", LZ4, true}, {"s2", S2, true}, {"snappy", S2, true}, {"none", None, true}, {"", None, true},
		{"brotli", None, false},
	}
	for _, tt := range tests {
		got, err := ParseFormat(tt.name)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseFormat(%q) = %v, %v; want %v, ok %v", tt.name, got, err, tt.want, tt.ok)
		}
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []Options{
		{Format: Zlib, Level: 10},
		{Format: Zstd, Level: 23},
		{Format: S2, Level: 4},
		{Format: Zlib, MinLen: -1},
		{Format: Format(99)},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) = nil error; want an error", o)
		}
	}
}

func TestConcurrentUseSharesPools(t *testing.T) {
	v := bytes.Repeat([]byte("concurrent "), 500)
	for _, f := range Formats() {
		c, _ := New(Options{Format: f})
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 20; i++ {
					stored, err := c.Encode(v)
					if err != nil {
						t.Error(err)
						return
					}
					got, _, err := c.Decode(stored)
					if err != nil || !bytes.Equal(got, v) {
						t.Errorf("%v: concurrent round trip failed: %v", f, err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
}

func BenchmarkEncode(b *testing.B) {
	v := bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog. "), 256<<10/45)
	for _, f := range Formats() {
		c, _ := New(Options{Format: f})
		b.Run(f.String(), func(b *testing.B) {
			b.SetBytes(int64(len(v)))
			for b.Loop() {
				if _, err := c.Encode(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	v := bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog. "), 256<<10/45)
	for _, f := range Formats() {
		c, _ := New(Options{Format: f})
		stored, _ := c.Encode(v)
		b.Run(f.String(), func(b *testing.B) {
			b.SetBytes(int64(len(v)))
			for b.Loop() {
				if _, _, err := c.Decode(stored); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSniff(b *testing.B) {
	v := []byte("\x80\x05\x95\x07\x00\x00\x00\x00\x00\x00\x00\x8c\x03abc\x94.")
	for b.Loop() {
		Sniff(v)
	}
}
