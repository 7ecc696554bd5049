package main

/*
#include "redis_cache_go.h"
*/
import "C"

import (
	"github.com/redis-cache-go/redis-cache-go/core/frame"
	"github.com/redis-cache-go/redis-cache-go/core/shard"
)

// ttlOp is rcg_ttl's contract as a completion: num = remaining ms, -1 without expiry.
func ttlOp(c *shard.Cache, key string) completion {
	d, ok, err := c.TTL(bg, key)
	if err != nil {
		return failed(err)
	}
	if !ok {
		return completion{status: C.RCG_MISS}
	}
	return completion{status: C.RCG_OK, num: int64(d)} // -1: no expiry
}

// frameKeys decodes a frame of keys (the goroutine owns the frame's memory).
func frameKeys(buf []byte) ([]string, string) {
	items, err := frame.Decode(buf)
	if err != nil {
		return nil, err.Error()
	}
	keys := make([]string, len(items))
	for i, it := range items {
		if it == nil {
			return nil, "frame: a key is marked missing"
		}
		keys[i] = string(it)
	}
	return keys, ""
}

// manyOp runs the batch operations and clear, with the sync exports' contracts.
func manyOp(e *entry, op int, x opArgs) completion {
	c := e.cache
	switch op {
	case opGetMany:
		keys, bad := frameKeys(x.a)
		if bad != "" {
			return argFailed(bad)
		}
		var vals [][]byte
		var err error
		if e.near != nil {
			vals, err = nearGetMany(e, keys) // copied into data below
		} else if vals, err = c.GetMany(bg, keys); err == nil {
			for i, v := range vals {
				if v != nil {
					vals[i] = e.codec.decodeValue(v)
				}
			}
		}
		if err != nil {
			return failed(err)
		}
		data := make([]byte, frame.Size(vals))
		frame.Put(data, vals)
		return completion{status: C.RCG_OK, data: data}
	case opSetMany:
		items, err := frame.Decode(x.a)
		if err != nil {
			return argFailed(err.Error())
		}
		if len(items)%2 != 0 {
			return argFailed("set_many frame needs key, value pairs")
		}
		keys := make([]string, len(items)/2)
		vals := make([][]byte, len(items)/2)
		for i := range keys {
			k, v := items[2*i], items[2*i+1]
			if k == nil || v == nil {
				return argFailed("set_many frame has a missing key or value")
			}
			stored, err := e.codec.encode(v)
			if err != nil {
				return failed(err)
			}
			keys[i], vals[i] = string(k), stored
		}
		err = c.SetMany(bg, keys, vals, ttl(C.int64_t(x.n1)))
		e.forget(keys...)
		if err != nil {
			return failed(err)
		}
		return completion{status: C.RCG_OK}
	case opDeleteMany:
		keys, bad := frameKeys(x.a)
		if bad != "" {
			return argFailed(bad)
		}
		n, err := c.DeleteMany(bg, keys)
		e.forget(keys...)
		if err != nil {
			return failed(err)
		}
		return completion{status: C.RCG_OK, num: n}
	case opClear:
		n, err := c.Clear(bg, string(x.a))
		e.forgetAll()
		if err != nil {
			return failed(err)
		}
		return completion{status: C.RCG_OK, num: n}
	}
	return argFailed("unknown async operation")
}
