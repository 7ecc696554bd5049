package main

/*
#include <stdlib.h>
#include "redis_cache_go.h"
*/
import "C"

import (
	"context"
	"errors"
	"runtime"
	"runtime/cgo"
	"strings"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/codec"
	"github.com/redis-cache-go/redis-cache-go/core/expiry"
	"github.com/redis-cache-go/redis-cache-go/core/frame"
	"github.com/redis-cache-go/redis-cache-go/core/nearcache"
	"github.com/redis-cache-go/redis-cache-go/core/shard"
	"github.com/redis-cache-go/redis-cache-go/core/version"
)

var bg = context.Background()

// fail writes err's message and returns the status for its class.
func fail(out *C.rcg_out, err error) C.int {
	putMessage(out, err.Error())
	switch client.KindOf(err) {
	case client.KindConnection:
		return C.RCG_ERR_CONNECTION
	case client.KindTimeout:
		return C.RCG_ERR_TIMEOUT
	case client.KindAuth:
		return C.RCG_ERR_AUTH
	case client.KindServer:
		return C.RCG_ERR_SERVER
	case client.KindClosed:
		return C.RCG_ERR_CLOSED
	case client.KindArgument:
		return C.RCG_ERR_ARGUMENT
	}
	return C.RCG_ERR_INTERNAL
}

// found maps a boolean outcome to RCG_OK / RCG_MISS.
func found(ok bool) C.int {
	if ok {
		return C.RCG_OK
	}
	return C.RCG_MISS
}

// writeOp is boolOp for a write of key: the near-cache forgets key after it.
func writeOp(h C.uintptr_t, out *C.rcg_out, key string, op func(*shard.Cache) (bool, error)) C.int {
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	ok, err := op(e.cache)
	e.forget(key)
	if err != nil {
		return fail(out, err)
	}
	return found(ok)
}

// boolOp runs a single-key operation whose outcome is found / not found.
func boolOp(h C.uintptr_t, out *C.rcg_out, op func(*shard.Cache) (bool, error)) C.int {
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	ok, err := op(e.cache)
	if err != nil {
		return fail(out, err)
	}
	return found(ok)
}

func argError(out *C.rcg_out, msg string) C.int {
	putMessage(out, "redis-cache-go: invalid argument: "+msg)
	return C.RCG_ERR_ARGUMENT
}

// ttl is a TTL argument of the ABI (int64 milliseconds): it stays in
// milliseconds all the way to Redis (core/expiry), so a TTL longer than a
// time.Duration holds is stored as asked; core/client refuses one past
// expiry.MaxMS before sending anything.
func ttl(ms C.int64_t) expiry.TTL { return expiry.TTL(ms) }

// waitOf is a pause or bound in milliseconds (lock sleep and wait) as a
// time.Duration, the longest one past about 292 years instead of wrapping.
func waitOf(ms C.int64_t) time.Duration { return expiry.TTL(ms).Duration() }

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
	opts, err := parseDocument(borrowed(doc, n))
	if err == nil {
		var vc *valueCodec
		if vc, err = parseCodecOf(borrowed(doc, n)); err == nil {
			var near *nearcache.Cache
			if near, err = nearOf(borrowed(doc, n), opts); err == nil {
				var c *shard.Cache
				group := joinStatsGroup(borrowed(doc, n), &opts)
				if c, err = shard.New(opts); err == nil {
					e := &entry{cache: c, codec: vc, stats: group, near: near}
					group.add(e)
					h := cgo.NewHandle(e)
					out.num = C.int64_t(h)
					return C.RCG_OK
				}
				if near != nil {
					near.Close()
				}
			}
		}
	}
	putMessage(out, "redis-cache-go: "+err.Error())
	return C.RCG_ERR_CONFIG
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

//export rcgx_ping
func rcgx_ping(h C.uintptr_t, out *C.rcg_out) (status C.int) {
	defer guard(h, out, &status)
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	if err := e.cache.Ping(bg); err != nil {
		return fail(out, err)
	}
	return C.RCG_OK
}

//export rcgx_get
func rcgx_get(h C.uintptr_t, out *C.rcg_out, key *C.uint8_t, klen C.size_t) (status C.int) {
	defer guard(h, out, &status)
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	if e.near != nil {
		return nearGet(e, out, borrowedString(key, klen))
	}
	v, ok, err := e.cache.Get(bg, borrowedString(key, klen))
	if err != nil {
		return fail(out, err)
	}
	if !ok {
		return C.RCG_MISS
	}
	e.codec.putValue(out, v)
	return C.RCG_OK
}

//export rcgx_set
func rcgx_set(h C.uintptr_t, out *C.rcg_out, key *C.uint8_t, klen C.size_t, val *C.uint8_t, vlen C.size_t, ttlMS C.int64_t, flags C.int) (status C.int) {
	defer guard(h, out, &status)
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	if flags&^C.RCG_SET_NX != 0 {
		return argError(out, "unknown rcg_set flags")
	}
	stored, buf, err := e.codec.encodePooled(borrowed(val, vlen))
	if err != nil {
		return fail(out, err)
	}
	k := borrowedString(key, klen)
	ok, err := e.cache.Set(bg, k, stored, ttl(ttlMS), flags&C.RCG_SET_NX != 0)
	buf.release() // Set has written stored (or failed); nothing keeps it
	e.forget(k)
	if err != nil {
		return fail(out, err)
	}
	return found(ok)
}

//export rcgx_delete
func rcgx_delete(h C.uintptr_t, out *C.rcg_out, k *C.uint8_t, klen C.size_t) (status C.int) {
	defer guard(h, out, &status)
	key := borrowedString(k, klen)
	return writeOp(h, out, key, func(c *shard.Cache) (bool, error) { return c.Delete(bg, key) })
}

//export rcgx_exists
func rcgx_exists(h C.uintptr_t, out *C.rcg_out, k *C.uint8_t, klen C.size_t) (status C.int) {
	defer guard(h, out, &status)
	key := borrowedString(k, klen)
	return boolOp(h, out, func(c *shard.Cache) (bool, error) { return c.Exists(bg, key) })
}

//export rcgx_expire
func rcgx_expire(h C.uintptr_t, out *C.rcg_out, k *C.uint8_t, klen C.size_t, ttlMS C.int64_t) (status C.int) {
	defer guard(h, out, &status)
	key := borrowedString(k, klen)
	return writeOp(h, out, key, func(c *shard.Cache) (bool, error) { return c.Expire(bg, key, ttl(ttlMS)) })
}

//export rcgx_persist
func rcgx_persist(h C.uintptr_t, out *C.rcg_out, k *C.uint8_t, klen C.size_t) (status C.int) {
	defer guard(h, out, &status)
	key := borrowedString(k, klen)
	return writeOp(h, out, key, func(c *shard.Cache) (bool, error) { return c.Persist(bg, key) })
}

//export rcgx_ttl
func rcgx_ttl(h C.uintptr_t, out *C.rcg_out, key *C.uint8_t, klen C.size_t) (status C.int) {
	defer guard(h, out, &status)
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	d, ok, err := e.cache.TTL(bg, borrowedString(key, klen))
	if err != nil {
		return fail(out, err)
	}
	if !ok {
		return C.RCG_MISS
	}
	out.num = C.int64_t(d) // -1: no expiry
	return C.RCG_OK
}

//export rcgx_incr
func rcgx_incr(h C.uintptr_t, out *C.rcg_out, key *C.uint8_t, klen C.size_t, delta C.int64_t) (status C.int) {
	defer guard(h, out, &status)
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	k := borrowedString(key, klen)
	v, ok, err := e.cache.Incr(bg, k, int64(delta))
	e.forget(k)
	if err != nil {
		return fail(out, err)
	}
	out.num = C.int64_t(v)
	return found(ok)
}

//export rcgx_rename
func rcgx_rename(h C.uintptr_t, out *C.rcg_out, src *C.uint8_t, slen C.size_t, dst *C.uint8_t, dlen C.size_t) (status C.int) {
	defer guard(h, out, &status)
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	from, to := borrowedString(src, slen), borrowedString(dst, dlen)
	ok, err := e.cache.Rename(bg, from, to)
	e.forget(from, to)
	if err != nil {
		return fail(out, err)
	}
	return found(ok)
}

// keysOf decodes a frame of keys; a missing item is not a key.
func keysOf(buf *C.uint8_t, n C.size_t) ([]string, error) {
	items, err := frame.Decode(borrowed(buf, n))
	if err != nil {
		return nil, err
	}
	// go-redis may keep args in pipelines: own the keys, in one allocation
	// for all of them (one string, sliced).
	total := 0
	for _, it := range items {
		if it == nil {
			return nil, errors.New("frame: a key is marked missing")
		}
		total += len(it)
	}
	var all strings.Builder
	all.Grow(total)
	for _, it := range items {
		all.Write(it)
	}
	joined := all.String()
	keys := make([]string, len(items))
	off := 0
	for i, it := range items {
		keys[i] = joined[off : off+len(it)]
		off += len(it)
	}
	return keys, nil
}

//export rcgx_get_many
func rcgx_get_many(h C.uintptr_t, out *C.rcg_out, buf *C.uint8_t, n C.size_t) (status C.int) {
	defer guard(h, out, &status)
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	keys, err := keysOf(buf, n)
	if err != nil {
		return argError(out, err.Error())
	}
	if e.near != nil {
		vals, err := nearGetMany(e, keys)
		if err != nil {
			return fail(out, err)
		}
		putFrame(out, vals)
		return C.RCG_OK
	}
	// The reply is written into the frame as it is read: no value is kept.
	w := newFrameWriter(out, len(keys))
	decode := e.codec.decode
	err = e.cache.GetManyEach(bg, keys, func(i int, v []byte) {
		if decode && codec.Sniff(v) != codec.None {
			v = e.codec.decodeValue(v)
		}
		w.put(i, v)
	})
	if err != nil {
		return fail(out, err)
	}
	w.finish()
	return C.RCG_OK
}

//export rcgx_set_many
func rcgx_set_many(h C.uintptr_t, out *C.rcg_out, buf *C.uint8_t, n C.size_t, ttlMS C.int64_t) (status C.int) {
	defer guard(h, out, &status)
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	items, err := frame.Decode(borrowed(buf, n))
	if err != nil {
		return argError(out, err.Error())
	}
	if len(items)%2 != 0 {
		return argError(out, "set_many frame needs key, value pairs")
	}
	keys := make([]string, len(items)/2)
	vals := make([][]byte, len(items)/2)
	for i := range keys {
		k, v := items[2*i], items[2*i+1]
		if k == nil || v == nil {
			return argError(out, "set_many frame has a missing key or value")
		}
		stored, err := e.codec.encode(v)
		if err != nil {
			return fail(out, err)
		}
		keys[i], vals[i] = string(k), stored
	}
	err = e.cache.SetMany(bg, keys, vals, ttl(ttlMS))
	e.forget(keys...)
	if err != nil {
		return fail(out, err)
	}
	return C.RCG_OK
}

//export rcgx_delete_many
func rcgx_delete_many(h C.uintptr_t, out *C.rcg_out, buf *C.uint8_t, n C.size_t) (status C.int) {
	defer guard(h, out, &status)
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	keys, err := keysOf(buf, n)
	if err != nil {
		return argError(out, err.Error())
	}
	count, err := e.cache.DeleteMany(bg, keys)
	e.forget(keys...)
	if err != nil {
		return fail(out, err)
	}
	out.num = C.int64_t(count)
	return C.RCG_OK
}

//export rcgx_clear
func rcgx_clear(h C.uintptr_t, out *C.rcg_out, pattern *C.uint8_t, plen C.size_t) (status C.int) {
	defer guard(h, out, &status)
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	count, err := e.cache.Clear(bg, borrowedString(pattern, plen))
	e.forgetAll()
	if err != nil {
		return fail(out, err)
	}
	out.num = C.int64_t(count)
	return C.RCG_OK
}
