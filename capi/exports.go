package main

/*
#include <stdlib.h>
#include "redis_cache_go.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"runtime/cgo"
	"strconv"

	"github.com/redis-cache-go/redis-cache-go/core/cache"
	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/codec"
	"github.com/redis-cache-go/redis-cache-go/core/version"
)

// The Go exports behind the entry points of entries.c (generated from the
// header, which documents each under its rcg_ name). Every operation on a
// handle arrives at rcgx_op with its RCG_OP_* code and its arguments as
// args; rcgx_op resolves the handle (use … done) and runs the operation of
// that code (ops.go) on the caller's outputs. guard turns a panic into
// RCG_ERR_INTERNAL.

// call runs f on handle h for a sync export.
func call(h C.uintptr_t, out *C.rcg_out, f op, x args) C.int {
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	return f(e, x, reply{out: out})
}

// fail writes err's message and returns the status for its class.
func fail(out *C.rcg_out, err error) C.int { return reply{out: out}.fail(err) }

func argError(out *C.rcg_out, msg string) C.int { return reply{out: out}.argError(msg) }

//export rcgx_version
func rcgx_version(out *C.rcg_out) (status C.int) {
	defer guard(0, out, &status)
	reset(out)
	putBytes(out, []byte(version.Version+" "+runtime.Version()))
	return C.RCG_OK
}

//export rcgx_open
func rcgx_open(doc *C.uint8_t, n C.size_t, out *C.rcg_out) (status C.int) {
	defer guard(0, out, &status)
	reset(out)
	cfg, err := cache.Parse(borrowed(doc, n))
	var c *cache.Cache
	if err == nil {
		c, err = cache.Open(cfg)
	}
	if err != nil {
		putMessage(out, "redis-cache-go: "+err.Error())
		return C.RCG_ERR_CONFIG
	}
	out.num = C.int64_t(cgo.NewHandle(&entry{c: c}))
	return C.RCG_OK
}

//export rcgx_close
func rcgx_close(h C.uintptr_t, out *C.rcg_out) (status C.int) {
	defer guard(0, out, &status)
	reset(out)
	e := lookup(h)
	if e == nil {
		putMessage(out, closedMessage)
		return C.RCG_ERR_CLOSED
	}
	cgo.Handle(h).Delete()
	if err := e.close(); err != nil && client.KindOf(err) != client.KindClosed {
		return fail(out, err)
	}
	return C.RCG_OK
}

//export rcgx_decode
func rcgx_decode(out *C.rcg_out, data *C.uint8_t, n C.size_t) (status C.int) {
	defer guard(0, out, &status)
	reset(out)
	value, format, err := codec.Decode(borrowed(data, n))
	if err != nil {
		putMessage(out, "redis-cache-go: "+err.Error())
		return C.RCG_ERR_ARGUMENT
	}
	if format == codec.None {
		return C.RCG_MISS
	}
	putBytes(out, value)
	out.num = C.int64_t(format)
	return C.RCG_OK
}

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

//export rcgx_op
func rcgx_op(code C.int, h C.uintptr_t, out *C.rcg_out, a *C.uint8_t, alen C.size_t, b *C.uint8_t, blen C.size_t, n1, n2, n3, n4 C.int64_t) (status C.int) {
	defer guard(h, out, &status)
	f := opOf(int(code))
	if f == nil {
		reset(out)
		return argError(out, "unknown operation code "+strconv.Itoa(int(code)))
	}
	return call(h, out, f, args{a: borrowed(a, alen), b: borrowed(b, blen), n1: int64(n1), n2: int64(n2), n3: int64(n3), n4: int64(n4)})
}
