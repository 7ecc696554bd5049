package main

/*
#include <stdlib.h>
#include "redis_cache_go.h"
*/
import "C"

import (
	"context"
	"unsafe"

	"github.com/redis-cache-go/redis-cache-go/core/cache"
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

// cOut is the caller's rcg_out as a cache.Sink: a value is written into
// the scratch buffer, or into C memory handed over in out->big.
type cOut C.rcg_out

// Alloc reserves n bytes of the result (see reserve).
func (o *cOut) Alloc(n int) []byte { return reserve((*C.rcg_out)(o), n) }

// Free drops what Alloc reserved.
func (o *cOut) Free() { unreserve((*C.rcg_out)(o)) }

// reply is where an operation writes its outcome: the rcg_out of a sync
// call, or (out nil) the completion of an async one, in Go memory.
type reply struct {
	out *C.rcg_out
	c   *completion
}

// ctx is the context of the operation: onThread for a sync call (made on
// the caller's thread), bg for an async one (its own goroutine).
func (r reply) ctx() context.Context {
	if r.out != nil {
		return onThread
	}
	return bg
}

// sink is where a value goes.
func (r reply) sink() cache.Sink {
	if r.out != nil {
		return (*cOut)(r.out)
	}
	return r.c
}

// bytes writes b as the result.
func (r reply) bytes(b []byte) { copy(r.sink().Alloc(len(b)), b) }

// num sets the integer result.
func (r reply) num(n int64) {
	if r.out != nil {
		r.out.num = C.int64_t(n)
	} else {
		r.c.num = n
	}
}

// message writes msg as the result (an error message) and returns status.
func (r reply) message(status C.int, msg string) C.int {
	if r.out != nil {
		putMessage(r.out, msg)
	} else {
		r.c.data = []byte(msg)
	}
	return status
}

// fail writes err's message and returns the status of its class.
func (r reply) fail(err error) C.int { return r.message(statusOf(err), err.Error()) }

// argError reports a malformed argument.
func (r reply) argError(msg string) C.int {
	return r.message(C.RCG_ERR_ARGUMENT, "redis-cache-go: invalid argument: "+msg)
}

// framed makes f, a frame built by a frame.Writer started on r's scratch
// buffer (see scratch), the result; inPlace: f is still in that buffer.
func (r reply) framed(f []byte, inPlace bool) {
	switch {
	case r.out == nil:
		r.c.data = f
	case inPlace:
		r.out.big = nil
		r.out.len = C.size_t(len(f))
	default:
		copy(reserve(r.out, len(f)), f)
	}
}

// scratch is the memory r's results go to first (nil when async).
func (r reply) scratch() []byte {
	if r.out == nil {
		return nil
	}
	return scratch(r.out)
}

// frame writes items as a frame, the result.
func (r reply) frame(items [][]byte) { frame.Put(r.sink().Alloc(frame.Size(items)), items) }
