// Package hostile helps tests feed code input a broken or malicious peer
// would send, and measure what handling it cost.
package hostile

import (
	"io"
	"runtime"
)

// Allocated returns how many bytes the process allocated while f ran
// (runtime.MemStats.TotalAlloc, after a collection): what handling an input
// cost, freed or not.
func Allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Endless is a reader that returns Head once, then Chunk over and over,
// never ending: a peer that keeps sending.
type Endless struct {
	Head, Chunk string
	off         int
}

// Read fills p.
func (e *Endless) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if e.Head != "" {
			k := copy(p[n:], e.Head)
			e.Head = e.Head[k:]
			n += k
			continue
		}
		k := copy(p[n:], e.Chunk[e.off:])
		e.off = (e.off + k) % len(e.Chunk)
		n += k
	}
	return n, nil
}

var _ io.Reader = (*Endless)(nil)
