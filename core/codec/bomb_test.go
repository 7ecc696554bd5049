// Built without the race detector only (make test-go runs them in a plain
// go test of this package): they inflate hundreds of MiB in one goroutine,
// which the detector slows 15-fold (about 4 minutes instead of 15 s) while
// it has nothing to find in them.

//go:build !race

package codec

import (
	"bytes"
	"errors"
	"testing"

	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/redis-cache-go/redis-cache-go/internal/hostile"
)

// bomb returns a value of format f that decodes to n MiB of zeros (n >= 1),
// built cheaply: one compressed MiB repeated, for the formats that read
// concatenated streams, and one stream otherwise.
func bomb(t testing.TB, f Format, n int) []byte {
	t.Helper()
	mib := make([]byte, 1<<20)
	switch f {
	case Zlib: // one stream: zlib reads no concatenation
		var b bytes.Buffer
		w, _ := zlib.NewWriterLevel(&b, zlib.BestSpeed)
		for range n {
			_, _ = w.Write(mib)
		}
		_ = w.Close()
		return b.Bytes()
	case Zstd: // one frame that does not state its size, as a streaming writer makes it
		var b bytes.Buffer
		w, _ := zstd.NewWriter(&b, zstd.WithEncoderConcurrency(1))
		for range n {
			_, _ = w.Write(mib)
		}
		_ = w.Close()
		return b.Bytes()
	}
	c, err := New(Options{Format: f, Level: 1})
	if err != nil {
		t.Fatal(err)
	}
	one, err := c.Encode(mib)
	if err != nil {
		t.Fatal(err)
	}
	if f == S2 { // one stream identifier, then the chunks of every MiB
		return append(one, bytes.Repeat(one[len(magicS2):], n-1)...)
	}
	return bytes.Repeat(one, n)
}

// measure runs f and returns the bytes the decoders produced and the bytes
// the process allocated meanwhile.
func measure(f func()) (inflatedBytes, allocated uint64) {
	i0 := Inflated()
	allocated = hostile.Allocated(f)
	return Inflated() - i0, allocated
}

func TestBombsAreRefusedAtTheirLimit(t *testing.T) {
	// 256 MiB of zeros in every format: under the 512 MiB cap, far over the
	// default limit of such a small value.
	for _, f := range Formats() {
		stored := bomb(t, f, 256)
		limit := Options{}.DecodeLimit(f, len(stored))
		if limit >= 256<<20 {
			t.Fatalf("%v: a %d-byte bomb has a limit of %d; the test needs it below 256 MiB", f, len(stored), limit)
		}
		for _, dst := range [][]byte{nil, make([]byte, 0, 8<<20)} { // none, or a pooled buffer
			var err error
			inflatedBytes, allocated := measure(func() { _, _, err = (*Codec)(nil).DecodeTo(dst, stored) })
			var le *LimitError
			if !errors.As(err, &le) || le.Limit != limit {
				t.Fatalf("%v: a %d-byte bomb of 256 MiB: got %v; want a LimitError at %d bytes", f, len(stored), err, limit)
			}
			if inflatedBytes > uint64(limit) {
				t.Errorf("%v: inflated %d bytes before refusing; want at most the limit, %d", f, inflatedBytes, limit)
			}
			// the output doubles up to the limit, the last step cut to it
			// (at most 3x the limit in all), plus the decoder's own state (a
			// zstd window, lz4 and s2 blocks of up to 4 MiB; more when the
			// race detector empties the pools of decoders)
			if max := 3*uint64(limit) + 48<<20; allocated > max {
				t.Errorf("%v: allocated %d bytes before refusing; want at most %d", f, allocated, max)
			}
		}
	}
}

func TestStatedSizesRefuseBeforeAnyWork(t *testing.T) {
	// xz chunks and zstd frames state what they decode to: a bomb in them
	// costs nothing to refuse.
	zeros := make([]byte, 96<<20)
	xzc, _ := New(Options{Format: LZMA, Level: 1})
	zc, _ := New(Options{Format: Zstd})
	for name, stored := range map[string][]byte{"xz": must(xzc.Encode(zeros)), "xz, 96 streams": bomb(t, LZMA, 96), "zstd": must(zc.Encode(zeros))} {
		var err error
		inflatedBytes, allocated := measure(func() { _, _, err = Decode(stored) })
		if !errors.Is(err, errTooLarge) || inflatedBytes != 0 || allocated > 1<<20 {
			t.Errorf("%s bomb of 96 MiB in %d bytes: got %v after inflating %d and allocating %d bytes; want a LimitError at once", name, len(stored), err, inflatedBytes, allocated)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestLargeValuesWithinTheirLimitDecode(t *testing.T) {
	// Word text (about 3:1) larger than every floor, and zeros up to the
	// floor itself: both read, and the counter says how much was produced.
	for _, f := range Formats() {
		size := 40 << 20
		if f == Bzip2 || f == LZMA {
			size = 17 << 20 // above their floors; their encoders are slow
		}
		text := wordText(size)
		c, _ := New(Options{Format: f, Level: 1})
		for name, v := range map[string][]byte{"text": text, "zeros up to the floor": make([]byte, DecodeFloor(f))} {
			stored := must(c.Encode(v))
			var got []byte
			var err error
			inflatedBytes, _ := measure(func() { got, _, err = Decode(stored) })
			if err != nil || !bytes.Equal(got, v) {
				t.Fatalf("%v %s of %d bytes: got %d bytes, %v", f, name, len(v), len(got), err)
			}
			if inflatedBytes != uint64(len(v)) {
				t.Errorf("%v %s: Inflated grew by %d; want %d", f, name, inflatedBytes, len(v))
			}
		}
	}
}

func TestDecodeLimit(t *testing.T) {
	for _, tc := range []struct {
		o      Options
		f      Format
		stored int
		want   int
	}{
		{Options{}, Zlib, 1000, 32 << 20},                      // the floor
		{Options{}, Zlib, 1 << 20, 64 << 20},                   // 64x
		{Options{}, LZMA, 10, 8 << 20},                         // xz's floor
		{Options{}, Zstd, 100 << 20, 512 << 20},                // the cap
		{Options{MaxRatio: 2}, LZ4, 100 << 20, 200 << 20},      // a ratio of one's own
		{Options{MaxRatio: -1}, S2, 10, 512 << 20},             // no ratio bound
		{Options{MaxDecodedLen: 1000}, Gzip, 10, 1000},         // the cap under the floor
		{Options{MaxRatio: 1 << 40}, Zlib, 1 << 30, 512 << 20}, // no overflow
	} {
		if got := tc.o.DecodeLimit(tc.f, tc.stored); got != tc.want {
			t.Errorf("%+v.DecodeLimit(%v, %d): got %d; want %d", tc.o, tc.f, tc.stored, got, tc.want)
		}
	}
}

func TestXZWalkMatchesTheDecoder(t *testing.T) {
	// Every block layout and check type the xz writer makes: the walk finds
	// exactly the size the decoder produces.
	values := [][]byte{{}, []byte("x"), wordText(300 << 10), make([]byte, 3<<20)}
	for _, v := range values {
		for _, cfg := range []xz.WriterConfig{
			{CheckSum: xz.None}, {CheckSum: xz.CRC32}, {CheckSum: xz.CRC64}, {CheckSum: xz.SHA256},
			{CheckSum: xz.CRC64, BlockSize: 64 << 10}, {CheckSum: xz.CRC32, DictCap: 1 << 16, BlockSize: 100 << 10},
		} {
			var b bytes.Buffer
			w, err := cfg.NewWriter(&b)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = w.Write(v)
			_ = w.Close()
			stored := append(b.Bytes(), 0, 0, 0, 0) // stream padding
			stored = append(stored, b.Bytes()...)   // a second stream
			info, err := xzWalk(stored)
			if err != nil || info.size != int64(2*len(v)) {
				t.Fatalf("%+v, %d bytes: walk says %d, %v; want %d", cfg, len(v), info.size, err, 2*len(v))
			}
			got, _, err := Decode(stored)
			if err != nil || len(got) != 2*len(v) {
				t.Fatalf("%+v, %d bytes: Decode = %d bytes, %v", cfg, len(v), len(got), err)
			}
		}
	}
	for _, bad := range [][]byte{magicXZ, append(append([]byte{}, magicXZ...), 0, 1, 0, 0, 0, 0, 0xff)} {
		if _, err := xzWalk(bad); err == nil {
			t.Errorf("xzWalk(%x): got no error", bad)
		}
	}
}
