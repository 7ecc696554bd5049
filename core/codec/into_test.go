package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestEncodeToReusesTheBufferAndLeavesPlainValuesUncopied(t *testing.T) {
	v := wordText(40 << 10)
	for _, f := range Formats() {
		c, _ := New(Options{Format: f, MinLen: 16})
		want, _ := c.Encode(v)
		buf := make([]byte, 3, 64<<10) // a used buffer: EncodeTo starts at buf[:0]
		got, compressed, err := c.EncodeTo(buf, v)
		if err != nil || !compressed || !bytes.Equal(got, want) {
			t.Errorf("%v: EncodeTo = %d bytes, %v, %v; want %d bytes (as Encode), true, nil", f, len(got), compressed, err, len(want))
		}
		if len(want) <= cap(buf) && &got[0] != &buf[0] {
			t.Errorf("%v: EncodeTo did not write into the %d-byte buffer for a %d-byte result", f, cap(buf), len(got))
		}
		for _, plain := range [][]byte{[]byte("short"), []byte("-1234567890123456789")} {
			got, compressed, err := c.EncodeTo(buf, plain)
			if err != nil || compressed || &got[0] != &plain[0] {
				t.Errorf("%v: EncodeTo(%q) compressed = %v (error %v); want the value itself, uncopied", f, plain, compressed, err)
			}
		}
	}
}

func TestDecodeToWritesIntoABufferThatFitsAndGrowsOneThatDoesNot(t *testing.T) {
	v := wordText(100 << 10)
	for _, f := range Formats() {
		c, _ := New(Options{Format: f})
		stored, _ := c.Encode(v)
		for _, size := range []int{0, 100, len(v), len(v) + 1, 2 * len(v)} {
			dst := make([]byte, 7, size+7) // a used buffer: DecodeTo starts at dst[:0]
			got, format, err := c.DecodeTo(dst, stored)
			if err != nil || format != f || !bytes.Equal(got, v) {
				t.Fatalf("%v into cap %d: DecodeTo = %d bytes, %v, %v; want the %d-byte value, %v, nil", f, cap(dst), len(got), format, err, len(v), f)
			}
			if cap(dst) > len(v) && &got[0] != &dst[0] { // every decoder writes into dst when it fits
				t.Errorf("%v: a %d-byte result did not go into the %d-byte buffer", f, len(v), cap(dst))
			}
		}
		plain := []byte("\x80\x05K\x01.")
		if got, format, err := c.DecodeTo(make([]byte, 0, 64), plain); err != nil || format != None || &got[0] != &plain[0] {
			t.Errorf("%v: DecodeTo of an uncompressed value = %v, %v; want it back uncopied, None", f, format, err)
		}
	}
}

func TestContentSize(t *testing.T) {
	v := wordText(70000)
	zs, _ := mustCodec(t, Zstd).Encode(v)
	empty, _ := mustCodec(t, Zstd).Encode([]byte{})
	zl, _ := mustCodec(t, Zlib).Encode(v)
	// a frame header claiming 1 TiB: not a size to allocate
	huge := append([]byte{0x28, 0xb5, 0x2f, 0xfd, 0xe0}, binary.LittleEndian.AppendUint64(nil, 1<<40)...)
	for _, tt := range []struct {
		name   string
		stored []byte
		n      int
		ok     bool
	}{
		{"zstd frame", zs, len(v), true},
		{"empty zstd frame", empty, 0, true},
		{"zlib (no size in the stream)", zl, 0, false},
		{"pickle", []byte("\x80\x05K\x01."), 0, false},
		{"truncated zstd header", zs[:5], 0, false},
		{"zstd header claiming 1 TiB", huge, 0, false},
	} {
		if n, ok := ContentSize(tt.stored); n != tt.n || ok != tt.ok {
			t.Errorf("ContentSize(%s) = %d, %v; want %d, %v", tt.name, n, ok, tt.n, tt.ok)
		}
	}
}

func TestDecodeRefusesAZstdFrameThatStatesMoreThanTheLimit(t *testing.T) {
	stored, _ := mustCodec(t, Zstd).Encode(wordText(5000))
	r, _ := New(Options{MaxDecodedLen: 4999})
	if _, _, err := r.DecodeTo(make([]byte, 0, 10000), stored); !errors.Is(err, errTooLarge) {
		t.Errorf("DecodeTo of 5000 bytes with a 4999-byte limit: error = %v; want errTooLarge", err)
	}
}

func TestReadAllGrowsFromAnyStartAndStopsAtTheLimit(t *testing.T) {
	v := wordText(300000)
	for _, tt := range []struct {
		name        string
		dst         []byte
		hint, limit int
		wantErr     error
	}{
		{"no buffer, tiny hint", nil, 1, len(v), nil},
		{"exact hint", nil, len(v), len(v), nil},
		{"small buffer", make([]byte, 0, 10), 0, len(v), nil},
		{"limit one short", nil, len(v), len(v) - 1, errTooLarge},
		{"limit one short, small hint", nil, 16, len(v) - 1, errTooLarge},
	} {
		got, err := readAll(tt.dst, bytes.NewReader(v), tt.hint, tt.limit)
		if !errors.Is(err, tt.wantErr) || (err == nil && !bytes.Equal(got, v)) {
			t.Errorf("readAll(%s) = %d bytes, %v; want %d bytes, %v", tt.name, len(got), err, len(v), tt.wantErr)
		}
	}
}

func mustCodec(t *testing.T, f Format) *Codec {
	t.Helper()
	c, err := New(Options{Format: f})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
