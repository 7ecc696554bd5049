package main

/*
#include "redis_cache_go.h"
*/
import "C"

import (
	"fmt"
	"runtime/cgo"
	"runtime/debug"
	"sync/atomic"

	"github.com/redis-cache-go/redis-cache-go/core/nearcache"
	"github.com/redis-cache-go/redis-cache-go/core/shard"
)

// entry is what a handle refers to.
type entry struct {
	cache *shard.Cache // one server or several
	// disabled holds the message of the internal error that disabled the
	// handle, or nil while it is usable.
	disabled atomic.Pointer[string]
	// codec is applied to the values of get/set/get_many/set_many (codec.go).
	codec *valueCodec
	// stats are the counters shared by every handle of the same
	// configuration (statsgroup.go).
	stats *statsGroup
	// near is the near-cache (OPTIONS LOCAL_CACHE, near.go), or nil.
	near *nearcache.Cache
}

// lookup resolves a handle; a zero, unknown or closed handle yields nil.
func lookup(h C.uintptr_t) (e *entry) {
	if h == 0 {
		return nil
	}
	defer func() {
		if recover() != nil { // cgo.Handle.Value panics on an invalid handle
			e = nil
		}
	}()
	e, _ = cgo.Handle(h).Value().(*entry)
	return e
}

// use starts a call on handle h: it clears the outputs (reset) and resolves
// h, or writes the reason it cannot be used.
func use(h C.uintptr_t, out *C.rcg_out) (*entry, C.int) {
	reset(out)
	e := lookup(h)
	if e == nil {
		putMessage(out, "redis-cache-go: the cache handle is closed or invalid")
		return nil, C.RCG_ERR_CLOSED
	}
	if msg := e.disabled.Load(); msg != nil {
		putMessage(out, "redis-cache-go: this handle was disabled by an earlier internal error: "+*msg)
		return nil, C.RCG_ERR_INTERNAL
	}
	return e, C.RCG_OK
}

// guard is deferred first in every export: it turns a panic into
// RCG_ERR_INTERNAL with a message, and disables the handle involved, so a Go
// bug never takes down the host process.
func guard(h C.uintptr_t, out *C.rcg_out, status *C.int) {
	r := recover()
	if r == nil {
		return
	}
	msg := fmt.Sprintf("internal error (please report it): %v", r)
	if e := lookup(h); e != nil {
		e.disabled.CompareAndSwap(nil, &msg)
	}
	if out != nil {
		putMessage(out, "redis-cache-go: "+msg+"\n"+string(debug.Stack()))
	}
	*status = C.RCG_ERR_INTERNAL
}
