package protect

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// The hot path: sealing a value on set, opening it on get, per mode and
// payload size (a small row, a rendered fragment, a large page). Seal
// appends to a reused buffer and Open of an encrypted value decrypts into
// one, as a caller that keeps its buffers would.
//
//	go test -run '^$' -bench . -benchmem ./core/protect

var benchSizes = []int{100, 2 << 10, 64 << 10}

const benchName = ":1:views.decorators.cache.cache_page.d41d8cd98f00b204e9800998ecf8427e"

func benchPayload(n int) []byte {
	p := make([]byte, n)
	rand.NewChaCha8([32]byte{2}).Read(p)
	p[0] = 0x80 // a pickle's first byte: never Raw
	return p
}

func BenchmarkSeal(b *testing.B) {
	for _, m := range modes {
		p := newP(b, m, false, "secret")
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%v/%dB", m, n), func(b *testing.B) {
				payload := benchPayload(n)
				dst := make([]byte, 0, n+p.Overhead())
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					dst = p.Seal(dst[:0], benchName, payload)
				}
			})
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, m := range modes {
		p := newP(b, m, false, "secret")
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%v/%dB", m, n), func(b *testing.B) {
				stored := p.Seal(nil, benchName, benchPayload(n))
				dst := make([]byte, 0, n)
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					got, err := p.Open(dst, benchName, stored)
					if err != nil || len(got) != n {
						b.Fatalf("Open = %d bytes, %v; want %d", len(got), err, n)
					}
				}
			})
		}
	}
}
