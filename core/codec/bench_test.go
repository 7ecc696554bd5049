package codec

import (
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
// value per format at its default level: the large-value path of issue 9.
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
