package main

/*
#include "redis_cache_go.h"
*/
import "C"

import (
	"encoding/binary"
	"fmt"

	"github.com/redis-cache-go/redis-cache-go/core/frame"
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

// commandArgs decodes a frame of command items into owned strings
// (go-redis may keep its args).
func commandArgs(buf []byte) ([]any, error) {
	items, err := frame.Keys(buf)
	args := make([]any, len(items))
	for i, it := range items {
		args[i] = it
	}
	return args, err
}

func command(e *entry, x args, r reply) C.int {
	args, err := commandArgs(x.a)
	if err != nil {
		return r.argError(err.Error())
	}
	if len(args) < 2 {
		return r.argError("a command frame needs the routing key and the command name")
	}
	replies, perServer, err := e.c.Do(r.ctx(), args[0].(string), args[1:]...)
	if err != nil {
		return r.fail(err)
	}
	var res []byte
	if perServer {
		res = binary.LittleEndian.AppendUint32([]byte{'a'}, uint32(len(replies)))
		for _, rep := range replies {
			res = appendReply(res, rep.Value)
		}
		r.num(1)
	} else {
		res = appendReply(nil, replies[0].Value)
	}
	r.bytes(res)
	return C.RCG_OK
}

func serverCommand(e *entry, x args, r reply) C.int {
	args, err := commandArgs(x.a)
	if err != nil {
		return r.argError(err.Error())
	}
	if len(args) < 1 {
		return r.argError("a server command frame needs the command name")
	}
	v, ok, err := e.c.ServerDo(r.ctx(), int(x.n1), args...)
	if !ok || err != nil {
		return found(r, ok, err)
	}
	r.bytes(appendReply(nil, v))
	return C.RCG_OK
}
