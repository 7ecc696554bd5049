package main

/*
#include "redis_cache_go.h"
*/
import "C"

import (
	"errors"
	"runtime/cgo"
	"strconv"

	"github.com/redis-cache-go/redis-cache-go/core/cache"
)

func herdAsk(e *entry, x args, r reply) C.int {
	t, err := e.c.Ask(r.ctx(), str(x.a), ttl(x.n1), r.sink())
	var failed failedTicket
	if errors.As(err, &failed) {
		r.num(int64(failed))
		return r.message(C.RCG_HERD_FAILED, err.Error())
	}
	if err != nil || t == nil {
		return outcome(r, err)
	}
	e.calls.Add(1) // held by the ticket until Publish or Abandon (see heldTicket)
	r.num(int64(cgo.NewHandle(&heldTicket{tk: t, e: e})))
	if t.Locked() && r.out != nil {
		r.out.len = 1 // tells the caller the lock is held (informative)
	}
	return C.RCG_HERD_COMPUTE
}

func herdWaiting(e *entry, _ args, r reply) C.int { return count(r, int64(e.c.Waiting()), nil) }

// heldTicket is what a ticket handle refers to: the ticket, and the entry
// it was asked on, whose call count it holds from Ask until Publish or
// Abandon (the ticket's own call). So rcg_close between the two halves of a
// get-or-set does not lose the computed value: the entry's connections stay
// open until the ticket is spent, whatever handle the caller spends it on.
type heldTicket struct {
	tk *cache.Ticket
	e  *entry
}

// ticketOf resolves and spends a ticket handle; the caller must call
// e.done() on the result's entry.
func ticketOf(t C.int64_t) *heldTicket {
	held := handleValue[heldTicket](uintptr(t))
	if held != nil {
		cgo.Handle(t).Delete()
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
	defer held.e.done()
	return outcome(reply{out: out}, held.tk.Publish(onThread, borrowed(val, vlen), ttl(int64(valueMS)), ttl(int64(freshMS))))
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
	waiting, err := held.tk.Abandon(onThread, failedTicket(ticket))
	out.num = C.int64_t(waiting)
	return outcome(reply{out: out}, err)
}

// failedTicket is the cause a ticket's owner abandons it with: the callers
// that waited for it answer RCG_HERD_FAILED with the ticket in out->num, so
// the caller's side can hand them the owner's own failure.
type failedTicket int64

func (f failedTicket) Error() string {
	return "the computation of herd ticket " + strconv.FormatInt(int64(f), 10) + " failed"
}
