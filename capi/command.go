package main

/*
#include "redis_cache_go.h"
*/
import "C"

import (
	"encoding/binary"
	"fmt"

	"github.com/redis-cache-go/redis-cache-go/core/frame"
	"github.com/redis-cache-go/redis-cache-go/core/shard"
	"github.com/redis/go-redis/v9"
)

// Reply encoding of rcg_command results (see redis_cache_go.h): one tag
// byte, then
//
//	'n'                      nil reply
//	'i' int64 LE             integer
//	's' u32 LE len, bytes    bulk or status string
//	'e' u32 LE len, bytes    error reply (inside an array, or per server)
//	'a' u32 LE count, items  array
func appendReply(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, 'n')
	case int64:
		return binary.LittleEndian.AppendUint64(append(b, 'i'), uint64(x))
	case string:
		return appendBytes(append(b, 's'), x)
	case []any:
		b = binary.LittleEndian.AppendUint32(append(b, 'a'), uint32(len(x)))
		for _, item := range x {
			b = appendReply(b, item)
		}
		return b
	case redis.Error:
		return appendBytes(append(b, 'e'), x.Error())
	case error:
		return appendBytes(append(b, 'e'), x.Error())
	}
	return appendBytes(append(b, 's'), fmt.Sprint(v))
}

func appendBytes(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

//export rcgx_command
func rcgx_command(h C.uintptr_t, out *C.rcg_out, buf *C.uint8_t, n C.size_t) (status C.int) {
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
	if len(items) < 2 {
		return argError(out, "a command frame needs the routing key and the command name")
	}
	args := make([]any, len(items)-1)
	for i, it := range items {
		if it == nil {
			return argError(out, "a command frame item is marked missing")
		}
		if i > 0 {
			args[i-1] = string(it) // own the bytes: go-redis may keep its args
		}
	}
	replies, perServer, err := e.cache.Do(bg, string(items[0]), args...)
	if e.near != nil && !shard.IsRead(fmt.Sprint(args[0])) {
		// A raw write: forget the routing key and every argument that may
		// name a key (MSET, DEL k1 k2 …); Redis' push covers the rest.
		e.near.Invalidate(string(items[0]))
		for _, a := range args[1:] {
			e.near.Invalidate(a.(string))
		}
	}
	if err != nil {
		return fail(out, err)
	}
	var res []byte
	if perServer {
		res = binary.LittleEndian.AppendUint32([]byte{'a'}, uint32(len(replies)))
		for _, r := range replies {
			res = appendReply(res, r.Value)
		}
		out.num = 1
	} else {
		res = appendReply(nil, replies[0].Value)
	}
	putBytes(out, res)
	return C.RCG_OK
}

//export rcgx_locate
func rcgx_locate(h C.uintptr_t, out *C.rcg_out, key *C.uint8_t, klen C.size_t) (status C.int) {
	defer guard(h, out, &status)
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	out.num = C.int64_t(e.cache.Locate(borrowedString(key, klen)))
	return C.RCG_OK
}

// rcgx_server_command runs one command on server number server (LOCATION
// order), whatever the layout would route: the admin path (INFO, DBSIZE,
// PING per server). See rcg_server_command in the header.
//
//export rcgx_server_command
func rcgx_server_command(h C.uintptr_t, out *C.rcg_out, server C.int64_t, buf *C.uint8_t, n C.size_t) (status C.int) {
	defer guard(h, out, &status)
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	if server < 0 || int(server) >= e.cache.Len() {
		return C.RCG_MISS
	}
	items, err := frame.Decode(borrowed(buf, n))
	if err != nil {
		return argError(out, err.Error())
	}
	if len(items) < 1 {
		return argError(out, "a server command frame needs the command name")
	}
	args := make([]any, len(items))
	for i, it := range items {
		if it == nil {
			return argError(out, "a command frame item is marked missing")
		}
		args[i] = string(it)
	}
	reply, err := e.cache.Server(int(server)).Do(bg, args...)
	if err != nil {
		return fail(out, err)
	}
	putBytes(out, appendReply(nil, reply))
	return C.RCG_OK
}
