package main

/*
#include "redis_cache_go.h"
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/redis-cache-go/redis-cache-go/core/codec"
)

// rcgx_stats writes the Go runtime's resource counters as
// "goroutines=N heap_alloc=B heap_objects=O total_alloc=T inflated=I"
// (diagnostics and the soak test: a leak shows up as a count that keeps
// growing; total_alloc is every byte Go allocated, inflated every byte the
// decompressors produced, both since the library loaded).
//
//export rcgx_stats
func rcgx_stats(out *C.rcg_out) (status C.int) {
	defer guard(0, out, &status)
	reset(out)
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	putBytes(out, fmt.Appendf(nil, "goroutines=%d heap_alloc=%d heap_objects=%d total_alloc=%d inflated=%d",
		runtime.NumGoroutine(), m.HeapAlloc, m.HeapObjects, m.TotalAlloc, codec.Inflated()))
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
