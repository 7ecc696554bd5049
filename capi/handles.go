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

	"github.com/redis-cache-go/redis-cache-go/core/cache"
)

// entry is what a handle refers to: an opened cache, and the state of the
// handle around it.
type entry struct {
	c *cache.Cache
	// disabled holds the message of the internal error that disabled the
	// handle, or nil while it is usable.
	disabled atomic.Pointer[string]
	// calls counts the calls between use and done; closing is set by
	// rcg_close, and whoever sees calls reach 0 with closing set (close
	// itself, or the last call out) shuts the entry, once (shut).
	calls   atomic.Int64
	closing atomic.Bool
	shut    atomic.Bool
}

// lookup resolves a handle; a zero, unknown or closed handle yields nil.
func lookup(h C.uintptr_t) *entry { return handleValue[entry](uintptr(h)) }

// handleValue resolves a cgo handle to the *T it refers to; a zero,
// unknown or deleted handle, or one that refers to something else, yields
// nil.
func handleValue[T any](h uintptr) (v *T) {
	if h == 0 {
		return nil
	}
	defer func() {
		if recover() != nil { // cgo.Handle.Value panics on an invalid handle
			v = nil
		}
	}()
	v, _ = cgo.Handle(h).Value().(*T)
	return v
}

const closedMessage = "redis-cache-go: the cache handle is closed or invalid"

// use starts a call on handle h: it clears the outputs (reset) and resolves
// h, or writes the reason it cannot be used. A call that gets an entry must
// end with e.done() (defer it at once); until then rcg_close leaves the
// entry's connections open, so a call that got in finishes normally. A call
// that did not get in (RCG_ERR_CLOSED) did nothing at all.
func use(h C.uintptr_t, out *C.rcg_out) (*entry, C.int) {
	reset(out)
	e := lookup(h)
	if e == nil {
		putMessage(out, closedMessage)
		return nil, C.RCG_ERR_CLOSED
	}
	if !e.enter() { // rcg_close came first: as if the handle were gone
		putMessage(out, closedMessage)
		return nil, C.RCG_ERR_CLOSED
	}
	if msg := e.disabledMessage(); msg != "" {
		e.done()
		putMessage(out, msg)
		return nil, C.RCG_ERR_INTERNAL
	}
	return e, C.RCG_OK
}

// disabledMessage says why e refuses calls, or is "" while it is usable.
func (e *entry) disabledMessage() string {
	if msg := e.disabled.Load(); msg != nil {
		return "redis-cache-go: this handle was disabled by an earlier internal error: " + *msg
	}
	return ""
}

// enter counts a call in, or reports false (counting nothing) once close has begun.
func (e *entry) enter() bool {
	e.calls.Add(1)
	if e.closing.Load() {
		e.done()
		return false
	}
	return true
}

// done ends a call begun by enter; the last call out of a closed entry shuts it.
func (e *entry) done() {
	if e.calls.Add(-1) == 0 && e.closing.Load() {
		_ = e.shutdown()
	}
}

// close is rcg_close's part once the handle is deleted: no call can start
// on e any more; it shuts e now when no call is running, else the last call
// out does (see done), and only an error of closing now is returned.
func (e *entry) close() error {
	e.closing.Store(true)
	if e.calls.Load() == 0 {
		return e.shutdown()
	}
	return nil
}

// shutdown releases what e holds, the first time it is called.
func (e *entry) shutdown() error {
	if !e.shut.CompareAndSwap(false, true) {
		return nil
	}
	return e.c.Close()
}

// guard is deferred first in every export: it turns a panic into
// RCG_ERR_INTERNAL with a message, and disables the handle involved, so a Go
// bug never takes down the host process.
func guard(h C.uintptr_t, out *C.rcg_out, status *C.int) {
	r := recover()
	if r == nil {
		return
	}
	msg := internalError(lookup(h), r)
	if out != nil {
		putMessage(out, msg)
	}
	*status = C.RCG_ERR_INTERNAL
}

// internalError disables e (which may be nil) for the recovered panic r
// and returns the message that reports it.
func internalError(e *entry, r any) string {
	msg := fmt.Sprintf("internal error (please report it): %v", r)
	if e != nil {
		e.disabled.CompareAndSwap(nil, &msg)
	}
	return "redis-cache-go: " + msg + "\n" + string(debug.Stack())
}
