package main

/*
#include "redis_cache_go.h"
*/
import "C"

import (
	"bytes"
	"errors"
	"runtime/cgo"
	"strconv"
	"strings"
	"sync"

	"github.com/redis-cache-go/redis-cache-go/core/herd"
)

// groups holds each handle's herd.Group, made on first use (keyed by entry,
// so closing a handle and reusing its number never shares a group). The
// groups of one configuration share their flights (statsgroup.go).
var groups sync.Map // *entry -> *herd.Group

func herdOf(e *entry) *herd.Group {
	if g, ok := groups.Load(e); ok {
		return g.(*herd.Group)
	}
	g, _ := groups.LoadOrStore(e, herd.New(e.cache, herd.Options{Flights: e.stats.flights}))
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
	var failed failedTicket
	if errors.As(err, &failed) {
		putMessage(out, err.Error())
		out.num = C.int64_t(failed)
		return C.RCG_HERD_FAILED
	}
	if err != nil {
		return fail(out, err)
	}
	// One lookup per get-or-set call, on the key's server: a hit when a
	// value is served, a miss when the caller must compute.
	e.cache.Owner(k).Recorder().Lookup(t == nil)
	if t != nil {
		e.calls.Add(1) // held by the ticket until Publish or Abandon (see heldTicket)
		out.num = C.int64_t(cgo.NewHandle(&heldTicket{tk: t, e: e}))
		if t.Locked() {
			out.len = 1 // tells the caller the lock is held (informative)
		}
		return C.RCG_HERD_COMPUTE
	}
	e.codec.putValue(out, v)
	return C.RCG_OK
}

// heldTicket is what a ticket handle refers to: the ticket, and the entry
// it was asked on, whose call count it holds from Ask until Publish or
// Abandon (the ticket's own call). So rcg_close between the two halves of a
// get-or-set does not lose the computed value: the entry's connections stay
// open until the ticket is spent, whatever handle the caller spends it on.
type heldTicket struct {
	tk *herd.Ticket
	e  *entry
}

// ticketOf resolves and spends a ticket handle; the caller must call
// e.done() on the result's entry.
func ticketOf(t C.int64_t) *heldTicket {
	if t == 0 {
		return nil
	}
	defer func() { _ = recover() }() // an invalid handle panics in Value
	th := cgo.Handle(t)
	held, _ := th.Value().(*heldTicket)
	if held != nil {
		th.Delete()
	}
	return held
}

//export rcgx_herd_publish
func rcgx_herd_publish(h C.uintptr_t, out *C.rcg_out, ticket C.int64_t, val *C.uint8_t, vlen C.size_t, valueMS, freshMS C.int64_t) (status C.int) {
	defer guard(h, out, &status)
	reset(out)
	held := ticketOf(ticket)
	if held == nil {
		return argError(out, "unknown or spent herd ticket")
	}
	e, tk := held.e, held.tk
	defer e.done()
	stored, err := e.codec.encode(bytes.Clone(borrowed(val, vlen))) // followers keep it
	if err != nil {
		_, _ = tk.Abandon(bg, nil) // the waiting asks ask again
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
	reset(out)
	held := ticketOf(ticket)
	if held == nil {
		return argError(out, "unknown or spent herd ticket")
	}
	defer held.e.done()
	waiting, err := held.tk.Abandon(bg, failedTicket(ticket))
	out.num = C.int64_t(waiting)
	if err != nil {
		return fail(out, err)
	}
	return C.RCG_OK
}

// rcgx_herd_waiting counts the waiting asks of every handle of e's
// configuration (they share one flight table).
//
//export rcgx_herd_waiting
func rcgx_herd_waiting(h C.uintptr_t, out *C.rcg_out) (status C.int) {
	defer guard(h, out, &status)
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	out.num = C.int64_t(herdOf(e).Waiting())
	return C.RCG_OK
}

// failedTicket is the cause a ticket's owner abandons it with: the callers
// that waited for it answer RCG_HERD_FAILED with the ticket in out->num, so
// the caller's side can hand them the owner's own failure.
type failedTicket int64

func (f failedTicket) Error() string {
	return "the computation of herd ticket " + strconv.FormatInt(int64(f), 10) + " failed"
}
