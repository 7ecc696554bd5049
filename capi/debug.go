package main

/*
#include <stdlib.h>
#include "redis_cache_go.h"
*/
import "C"

import (
	"os"
	"runtime/pprof"
	"time"
	"unsafe"

	"github.com/redis-cache-go/redis-cache-go/core/frame"
)

// Operations rcg_debug_repeat can repeat (RCG_REPEAT_* in the header).
const (
	repeatNoop    = 0 // resolve the handle only: the fixed cost of an export
	repeatGet     = 1 // frame [key]
	repeatSet     = 2 // frame [key, value]
	repeatGetMany = 3 // frame = the rcg_get_many frame
	repeatSetMany = 4 // frame = the rcg_set_many frame
)

//export rcgx_debug_repeat
func rcgx_debug_repeat(h C.uintptr_t, out *C.rcg_out, op C.int, buf *C.uint8_t, n C.size_t, ttlMS C.int64_t,
	count C.int64_t, prof *C.uint8_t, plen C.size_t) (status C.int) {
	defer guard(h, out, &status)
	if e, st := use(h, out); e == nil {
		return st
	}
	if count <= 0 {
		return argError(out, "repeat count must be positive")
	}
	items, err := frame.Decode(borrowed(buf, n))
	if err != nil {
		return argError(out, err.Error())
	}
	var call func() C.int
	ptr := func(b []byte) *C.uint8_t {
		if len(b) == 0 {
			return nil
		}
		return (*C.uint8_t)(unsafe.Pointer(&b[0]))
	}
	switch op {
	case repeatNoop:
		call = func() C.int { _, st := use(h, out); return st }
	case repeatGet:
		if len(items) != 1 || items[0] == nil {
			return argError(out, "repeat get needs a frame of one key")
		}
		k := items[0]
		call = func() C.int { return rcgx_get(h, out, ptr(k), C.size_t(len(k))) }
	case repeatSet:
		if len(items) != 2 || items[0] == nil || items[1] == nil {
			return argError(out, "repeat set needs a frame of key, value")
		}
		k, v := items[0], items[1]
		call = func() C.int {
			return rcgx_set(h, out, ptr(k), C.size_t(len(k)), ptr(v), C.size_t(len(v)), ttlMS, 0)
		}
	case repeatGetMany:
		call = func() C.int { return rcgx_get_many(h, out, buf, n) }
	case repeatSetMany:
		call = func() C.int { return rcgx_set_many(h, out, buf, n, ttlMS) }
	default:
		return argError(out, "unknown repeat operation")
	}
	if plen > 0 {
		f, err := os.Create(borrowedString(prof, plen))
		if err != nil {
			return argError(out, "cpu profile: "+err.Error())
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return argError(out, "cpu profile: "+err.Error())
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	for i := C.int64_t(0); i < count; i++ {
		st := call()
		if out.big != nil { // a result larger than the scratch buffer: not kept
			C.free(unsafe.Pointer(out.big))
			out.big = nil
		}
		if st != C.RCG_OK && st != C.RCG_MISS {
			return st // the call's message is in out
		}
	}
	elapsed := time.Since(start)
	reset(out)
	out.num = C.int64_t(elapsed.Nanoseconds())
	return C.RCG_OK
}
