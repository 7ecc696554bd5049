package codec

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// wordText returns n bytes of text drawn from a small random vocabulary:
// it compresses about 3x, like bench/codec_bench.py's value (HTML/JSON-like),
// unlike a repeated sentence, which every compressor flattens to nothing.
func wordText(n int) []byte {
	rng := rand.New(rand.NewPCG(7, 7))
	vocab := make([]string, 0, 406)
	for range 400 {
		w := make([]byte, 2+rng.IntN(9))
		for i := range w {
			w[i] = byte('a' + rng.IntN(26))
		}
		vocab = append(vocab, string(w))
	}
	vocab = append(vocab, "<div>", "</div>", `"id":`, "\n", "the", "and")
	var sb strings.Builder
	for sb.Len() < n {
		sb.WriteString(vocab[rng.IntN(len(vocab))])
		sb.WriteByte("  ,."[rng.IntN(4)])
	}
	return []byte(sb.String()[:n])
}

// BenchmarkEncode256K and BenchmarkDecode256K time one 256 KiB word-text
// value per format at its default level: the large-value path.
func BenchmarkEncode256K(b *testing.B) {
	v := wordText(256 << 10)
	for _, f := range Formats() {
		c, _ := New(Options{Format: f})
		stored, _ := c.Encode(v)
		b.Run(f.String(), func(b *testing.B) {
			b.SetBytes(int64(len(v)))
			b.ReportMetric(float64(len(v))/float64(len(stored)), "ratio")
			for b.Loop() {
				if _, err := c.Encode(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode256K(b *testing.B) {
	v := wordText(256 << 10)
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

// BenchmarkEncodeTo256K is the capi set path: zlib and zstd at the fastest
// level and the default one, compressing into a reused buffer.
func BenchmarkEncodeTo256K(b *testing.B) {
	v := wordText(256 << 10)
	for _, tc := range []struct {
		f     Format
		level int
	}{{Zlib, 1}, {Zlib, 6}, {Zstd, 1}, {Zstd, 3}, {LZ4, 0}, {S2, 1}} {
		c, err := New(Options{Format: tc.f, Level: tc.level})
		if err != nil {
			b.Fatal(err)
		}
		var buf []byte
		b.Run(fmt.Sprintf("%v-%d", tc.f, tc.level), func(b *testing.B) {
			b.SetBytes(int64(len(v)))
			for b.Loop() {
				buf, _, err = c.EncodeTo(buf, v)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(v))/float64(len(buf)), "ratio")
		})
	}
}

// BenchmarkDecodeTo256K is the capi get path: decompressing into a reused
// buffer (zstd: sized by ContentSize).
func BenchmarkDecodeTo256K(b *testing.B) {
	v := wordText(256 << 10)
	for _, tc := range []struct {
		f     Format
		level int
	}{{Zlib, 1}, {Zlib, 6}, {Zstd, 1}, {Zstd, 3}, {LZ4, 0}, {S2, 1}} {
		c, _ := New(Options{Format: tc.f, Level: tc.level})
		stored, _ := c.Encode(v)
		var buf []byte
		b.Run(fmt.Sprintf("%v-%d", tc.f, tc.level), func(b *testing.B) {
			b.SetBytes(int64(len(v)))
			for b.Loop() {
				got, _, err := c.DecodeTo(buf, stored)
				if err != nil || len(got) != len(v) {
					b.Fatal(err)
				}
				buf = got
			}
		})
	}
}
