package main

/*
#include "redis_cache_go.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"runtime"
)

// rcgx_stats writes the Go runtime's resource counters as
// "goroutines=N heap_alloc=B heap_objects=O" (diagnostics and the soak
// test: a leak shows up as a count that keeps growing).
//
//export rcgx_stats
func rcgx_stats(out *C.rcg_out) (status C.int) {
	defer guard(0, out, &status)
	reset(out)
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	putBytes(out, fmt.Appendf(nil, "goroutines=%d heap_alloc=%d heap_objects=%d",
		runtime.NumGoroutine(), m.HeapAlloc, m.HeapObjects))
	return C.RCG_OK
}

// rcgx_cache_stats writes the handle's per-server counters (core/stats) as a
// JSON array in LOCATION order; see rcg_cache_stats in the header.
//
//export rcgx_cache_stats
func rcgx_cache_stats(h C.uintptr_t, out *C.rcg_out) (status C.int) {
	defer guard(h, out, &status)
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	doc, err := json.Marshal(e.stats.snapshots(e.cache))
	if err != nil {
		panic(err) // counters and strings always marshal
	}
	putBytes(out, doc)
	return C.RCG_OK
}
