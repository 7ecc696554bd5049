package main

/*
#include "redis_cache_go.h"
*/
import "C"

import (
	"bytes"
	"runtime/cgo"
	"strings"
	"sync"

	"github.com/redis-cache-go/redis-cache-go/core/herd"
)

// groups holds each handle's herd.Group, made on first use (keyed by entry,
// so closing a handle and reusing its number never shares a group).
var groups sync.Map // *entry -> *herd.Group

func herdOf(e *entry) *herd.Group {
	if g, ok := groups.Load(e); ok {
		return g.(*herd.Group)
	}
	g, _ := groups.LoadOrStore(e, herd.New(e.cache, herd.Options{}))
	return g.(*herd.Group)
}

//export rcgx_herd_ask
func rcgx_herd_ask(h C.uintptr_t, out *C.rcg_out, key *C.uint8_t, klen C.size_t, lockMS C.int64_t) (status C.int) {
	defer guard(h, out, &status)
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	k := strings.Clone(borrowedString(key, klen)) // kept in the flight table
	v, t, err := herdOf(e).Ask(bg, k, ttl(lockMS))
	if err != nil {
		return fail(out, err)
	}
	// One lookup per get-or-set call, on the key's server: a hit when a
	// value is served, a miss when the caller must compute.
	e.cache.Owner(k).Recorder().Lookup(t == nil)
	if t != nil {
		out.num = C.int64_t(cgo.NewHandle(t))
		if t.Locked() {
			out.len = 1 // tells the caller the lock is held (informative)
		}
		return C.RCG_HERD_COMPUTE
	}
	e.codec.putValue(out, v)
	return C.RCG_OK
}

// ticketOf resolves and spends a ticket handle.
func ticketOf(t C.int64_t) *herd.Ticket {
	if t == 0 {
		return nil
	}
	defer func() { _ = recover() }() // an invalid handle panics in Value
	th := cgo.Handle(t)
	tk, _ := th.Value().(*herd.Ticket)
	if tk != nil {
		th.Delete()
	}
	return tk
}

//export rcgx_herd_publish
func rcgx_herd_publish(h C.uintptr_t, out *C.rcg_out, ticket C.int64_t, val *C.uint8_t, vlen C.size_t, valueMS, freshMS C.int64_t) (status C.int) {
	defer guard(h, out, &status)
	e, st := use(h, out)
	if e != nil {
		defer e.done()
	}
	tk := ticketOf(ticket)
	if tk == nil {
		return argError(out, "unknown or spent herd ticket")
	}
	if e == nil {
		_ = tk.Abandon(bg)
		return st
	}
	stored, err := e.codec.encode(bytes.Clone(borrowed(val, vlen))) // followers keep it
	if err != nil {
		_ = tk.Abandon(bg)
		return fail(out, err)
	}
	err = tk.Publish(bg, stored, ttl(valueMS), ttl(freshMS))
	e.forget(tk.Key)
	if err != nil {
		return fail(out, err)
	}
	return C.RCG_OK
}

//export rcgx_herd_abandon
func rcgx_herd_abandon(h C.uintptr_t, out *C.rcg_out, ticket C.int64_t) (status C.int) {
	defer guard(h, out, &status)
	e, st := use(h, out)
	if e != nil {
		defer e.done()
	}
	tk := ticketOf(ticket)
	if tk == nil {
		return argError(out, "unknown or spent herd ticket")
	}
	if e == nil {
		_ = tk.Abandon(bg)
		return st
	}
	if err := tk.Abandon(bg); err != nil {
		return fail(out, err)
	}
	return C.RCG_OK
}
