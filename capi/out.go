package main

/*
#include <stdlib.h>
#include "redis_cache_go.h"
*/
import "C"

import (
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
