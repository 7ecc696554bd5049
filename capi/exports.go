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

	"github.com/redis-cache-go/redis-cache-go/core/cache"
	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/codec"
	"github.com/redis-cache-go/redis-cache-go/core/version"
)

// The exports, each documented in redis_cache_go.h under its rcg_ name.
// Those on a handle resolve it (use … done), unpack their C arguments into
// args and run their operation (ops.go) on the caller's outputs; guard
// turns a panic into RCG_ERR_INTERNAL.

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

// key is a borrowed key or other byte argument.
func key(p *C.uint8_t, n C.size_t) args { return args{a: borrowed(p, n)} }

//export rcgx_ping
func rcgx_ping(h C.uintptr_t, out *C.rcg_out) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, ping, args{})
}

//export rcgx_get
func rcgx_get(h C.uintptr_t, out *C.rcg_out, k *C.uint8_t, klen C.size_t) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, get, key(k, klen))
}

//export rcgx_set
func rcgx_set(h C.uintptr_t, out *C.rcg_out, k *C.uint8_t, klen C.size_t, val *C.uint8_t, vlen C.size_t, ttlMS C.int64_t, flags C.int) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, set, args{a: borrowed(k, klen), b: borrowed(val, vlen), n1: int64(ttlMS), n2: int64(flags)})
}

//export rcgx_delete
func rcgx_delete(h C.uintptr_t, out *C.rcg_out, k *C.uint8_t, klen C.size_t) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, del, key(k, klen))
}

//export rcgx_exists
func rcgx_exists(h C.uintptr_t, out *C.rcg_out, k *C.uint8_t, klen C.size_t) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, exists, key(k, klen))
}

//export rcgx_expire
func rcgx_expire(h C.uintptr_t, out *C.rcg_out, k *C.uint8_t, klen C.size_t, ttlMS C.int64_t) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, expire, args{a: borrowed(k, klen), n1: int64(ttlMS)})
}

//export rcgx_persist
func rcgx_persist(h C.uintptr_t, out *C.rcg_out, k *C.uint8_t, klen C.size_t) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, persist, key(k, klen))
}

//export rcgx_ttl
func rcgx_ttl(h C.uintptr_t, out *C.rcg_out, k *C.uint8_t, klen C.size_t) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, ttlOf, key(k, klen))
}

//export rcgx_incr
func rcgx_incr(h C.uintptr_t, out *C.rcg_out, k *C.uint8_t, klen C.size_t, delta C.int64_t) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, incr, args{a: borrowed(k, klen), n1: int64(delta)})
}

//export rcgx_rename
func rcgx_rename(h C.uintptr_t, out *C.rcg_out, src *C.uint8_t, slen C.size_t, dst *C.uint8_t, dlen C.size_t) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, rename, args{a: borrowed(src, slen), b: borrowed(dst, dlen)})
}

//export rcgx_get_many
func rcgx_get_many(h C.uintptr_t, out *C.rcg_out, buf *C.uint8_t, n C.size_t) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, getMany, key(buf, n))
}

//export rcgx_set_many
func rcgx_set_many(h C.uintptr_t, out *C.rcg_out, buf *C.uint8_t, n C.size_t, ttlMS C.int64_t) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, setMany, args{a: borrowed(buf, n), n1: int64(ttlMS)})
}

//export rcgx_delete_many
func rcgx_delete_many(h C.uintptr_t, out *C.rcg_out, buf *C.uint8_t, n C.size_t) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, deleteMany, key(buf, n))
}

//export rcgx_clear
func rcgx_clear(h C.uintptr_t, out *C.rcg_out, pattern *C.uint8_t, plen C.size_t) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, clear, key(pattern, plen))
}

//export rcgx_command
func rcgx_command(h C.uintptr_t, out *C.rcg_out, buf *C.uint8_t, n C.size_t) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, command, key(buf, n))
}

//export rcgx_server_command
func rcgx_server_command(h C.uintptr_t, out *C.rcg_out, server C.int64_t, buf *C.uint8_t, n C.size_t) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, serverCommand, args{a: borrowed(buf, n), n1: int64(server)})
}

//export rcgx_locate
func rcgx_locate(h C.uintptr_t, out *C.rcg_out, k *C.uint8_t, klen C.size_t) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, locate, key(k, klen))
}

//export rcgx_lock_acquire
func rcgx_lock_acquire(h C.uintptr_t, out *C.rcg_out, k *C.uint8_t, klen C.size_t, ttlMS, sleepMS, waitMS C.int64_t, flags C.int) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, lockAcquire, args{a: borrowed(k, klen), n1: int64(ttlMS), n2: int64(sleepMS), n3: int64(waitMS), n4: int64(flags)})
}

//export rcgx_lock_release
func rcgx_lock_release(h C.uintptr_t, out *C.rcg_out, k *C.uint8_t, klen C.size_t, tok *C.uint8_t, tlen C.size_t) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, lockRelease, args{a: borrowed(k, klen), b: borrowed(tok, tlen)})
}

//export rcgx_lock_extend
func rcgx_lock_extend(h C.uintptr_t, out *C.rcg_out, k *C.uint8_t, klen C.size_t, tok *C.uint8_t, tlen C.size_t, ttlMS C.int64_t, replace C.int) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, lockExtend, args{a: borrowed(k, klen), b: borrowed(tok, tlen), n1: int64(ttlMS), n2: int64(replace)})
}

//export rcgx_lock_held
func rcgx_lock_held(h C.uintptr_t, out *C.rcg_out, k *C.uint8_t, klen C.size_t) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, lockHeld, key(k, klen))
}

//export rcgx_scan
func rcgx_scan(h C.uintptr_t, out *C.rcg_out, server C.int64_t, cursor C.int64_t, pattern *C.uint8_t, plen C.size_t, count C.int64_t) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, scan, args{a: borrowed(pattern, plen), n1: int64(server), n2: int64(cursor), n3: int64(count)})
}

//export rcgx_delete_pattern
func rcgx_delete_pattern(h C.uintptr_t, out *C.rcg_out, pattern *C.uint8_t, plen C.size_t, count C.int64_t) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, deletePattern, args{a: borrowed(pattern, plen), n1: int64(count)})
}

//export rcgx_reinsert
func rcgx_reinsert(h C.uintptr_t, out *C.rcg_out, pattern *C.uint8_t, plen C.size_t, count C.int64_t) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, reinsert, args{a: borrowed(pattern, plen), n1: int64(count)})
}

//export rcgx_walk_step
func rcgx_walk_step(h C.uintptr_t, out *C.rcg_out, op C.int, server C.int64_t, cursor C.int64_t, pattern *C.uint8_t, plen C.size_t, count C.int64_t) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, walkStep, args{a: borrowed(pattern, plen), n1: int64(op), n2: int64(server), n3: int64(cursor), n4: int64(count)})
}

//export rcgx_cache_stats
func rcgx_cache_stats(h C.uintptr_t, out *C.rcg_out) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, cacheStats, args{})
}

//export rcgx_near_stats
func rcgx_near_stats(h C.uintptr_t, out *C.rcg_out) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, nearStats, args{})
}

//export rcgx_herd_ask
func rcgx_herd_ask(h C.uintptr_t, out *C.rcg_out, k *C.uint8_t, klen C.size_t, lockMS C.int64_t) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, herdAsk, args{a: borrowed(k, klen), n1: int64(lockMS)})
}

//export rcgx_herd_waiting
func rcgx_herd_waiting(h C.uintptr_t, out *C.rcg_out) (status C.int) {
	defer guard(h, out, &status)
	return call(h, out, herdWaiting, args{})
}
