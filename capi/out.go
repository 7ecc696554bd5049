package main

/*
#include <stdlib.h>
#include "redis_cache_go.h"
*/
import "C"

import (
	"encoding/binary"
	"unsafe"

	"github.com/redis-cache-go/redis-cache-go/core/frame"
)

// reset clears the outputs at the start of every call, so a stale big
// pointer from an earlier call is never mistaken for a new result.
func reset(out *C.rcg_out) {
	out.len = 0
	out.big = nil
	out.num = 0
}

// scratch returns the caller's buffer as a Go slice (C memory, borrowed).
func scratch(out *C.rcg_out) []byte {
	if out.buf == nil || out.cap == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(out.buf)), int(out.cap))
}

// reserve returns n writable bytes for a result: the scratch buffer when it
// is large enough, else fresh C memory handed to the caller in out.big.
func reserve(out *C.rcg_out, n int) []byte {
	out.len = C.size_t(n)
	if n <= int(out.cap) {
		return scratch(out)[:n]
	}
	p := C.malloc(C.size_t(n))
	if p == nil {
		panic("malloc failed")
	}
	out.big = (*C.uint8_t)(p)
	return unsafe.Slice((*byte)(p), n)
}

// unreserve drops a result written by reserve, freeing its C memory.
func unreserve(out *C.rcg_out) {
	if out.big != nil {
		C.free(unsafe.Pointer(out.big))
		out.big = nil
	}
	out.len = 0
}

// putBytes writes a result.
func putBytes(out *C.rcg_out, b []byte) { copy(reserve(out, len(b)), b) }

// putFrame writes items as a frame.
func putFrame(out *C.rcg_out, items [][]byte) { frame.Put(reserve(out, frame.Size(items)), items) }

// putMessage writes an error message, truncated to the scratch buffer.
func putMessage(out *C.rcg_out, msg string) {
	out.big = nil
	out.len = C.size_t(copy(scratch(out), msg))
}

// borrowed views C input memory as Go values for the duration of a call.
func borrowed(p *C.uint8_t, n C.size_t) []byte {
	if n == 0 {
		return []byte{}
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}

func borrowedString(p *C.uint8_t, n C.size_t) string {
	if n == 0 {
		return ""
	}
	return unsafe.String((*byte)(unsafe.Pointer(p)), int(n))
}

// frameWriter builds a frame of n items (every item missing until put) in
// the caller's scratch buffer while a reply is read, moving to Go memory only
// when the scratch buffer turns out too small; finish hands it to out.
type frameWriter struct {
	out     *C.rcg_out
	buf     []byte
	off     int  // end of the items written so far
	private bool // buf is Go memory (the scratch buffer was too small)
}

func newFrameWriter(out *C.rcg_out, n int) *frameWriter {
	head := 4 + 4*n
	w := &frameWriter{out: out, buf: scratch(out), off: head}
	if len(w.buf) < head {
		w.buf, w.private = make([]byte, 2*head), true
	}
	binary.LittleEndian.PutUint32(w.buf, uint32(n))
	for i := 4; i < head; i++ {
		w.buf[i] = 0xFF // frame.Missing
	}
	return w
}

// put writes item i (each index at most once, v no longer than frame.MaxItem).
func (w *frameWriter) put(i int, v []byte) {
	if need := w.off + len(v); need > len(w.buf) {
		grown := make([]byte, max(2*len(w.buf), need))
		copy(grown, w.buf[:w.off])
		w.buf, w.private = grown, true
	}
	binary.LittleEndian.PutUint32(w.buf[4+4*i:], uint32(len(v)))
	w.off += copy(w.buf[w.off:], v)
}

// finish makes the frame the call's result.
func (w *frameWriter) finish() {
	if w.private {
		copy(reserve(w.out, w.off), w.buf[:w.off])
		return
	}
	w.out.big = nil
	w.out.len = C.size_t(w.off)
}
