package main

/*
#include "redis_cache_go.h"
*/
import "C"

import (
	"encoding/binary"
	"fmt"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"syscall"
)

// The asynchronous C ABI: rcg_async_submit starts an operation on its own
// goroutine and returns at once; the goroutine queues its completion on an
// asyncq (one per caller event loop) and wakes the caller by writing to the
// queue's file descriptor (an eventfd or the write end of a pipe) when the
// queue goes from empty to non-empty; rcg_async_drain hands every queued
// completion over in one frame. Nothing calls back into the caller.

// asyncInflight counts submitted operations whose completion is not yet
// queued, over all queues (rcg_async_stats; a leak shows as a count that
// does not return to 0).
var (
	asyncInflight atomic.Int64
	asyncQueues   atomic.Int64
)

// completion is one finished operation, as rcg_async_drain reports it.
type completion struct {
	ticket int64
	status int32
	num    int64
	data   []byte // the value, frame or error message
}

// Alloc makes data n bytes long (a completion is the cache.Sink of an
// async read).
func (c *completion) Alloc(n int) []byte {
	c.data = make([]byte, n)
	return c.data
}

// Free drops data.
func (c *completion) Free() { c.data = nil }

// asyncq is the completion queue of one caller event loop.
type asyncq struct {
	mu       sync.Mutex
	done     []completion
	fd       int // owned: a dup of the caller's descriptor, closed by the last user
	closed   bool
	inflight int
}

var wake = binary.LittleEndian.AppendUint64(nil, 1)

// push queues cs and wakes the caller if the queue was empty. The write
// happens under the lock so that close never races with it.
func (q *asyncq) push(cs ...completion) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inflight -= len(cs)
	asyncInflight.Add(-int64(len(cs)))
	if q.closed {
		if q.inflight == 0 {
			q.release()
		}
		return // nobody is listening: the completions are dropped
	}
	was := len(q.done)
	q.done = append(q.done, cs...)
	if was == 0 && len(q.done) > 0 {
		// EAGAIN (a full pipe) is fine: the caller has a wake-up pending anyway.
		_, _ = syscall.Write(q.fd, wake)
	}
}

func (q *asyncq) release() {
	if q.fd >= 0 {
		_ = syscall.Close(q.fd)
		q.fd = -1
		asyncQueues.Add(-1)
	}
}

// queueOf resolves a queue handle (nil: closed or invalid).
func queueOf(h C.uintptr_t) *asyncq { return handleValue[asyncq](uintptr(h)) }

const closedQueueMessage = "redis-cache-go: the completion queue is closed or invalid"

// closedQueue reports a queue handle that resolves to no open queue.
func closedQueue(out *C.rcg_out) C.int {
	putMessage(out, closedQueueMessage)
	return C.RCG_ERR_CLOSED
}

//export rcgx_async_open
func rcgx_async_open(fd C.int, out *C.rcg_out) (status C.int) {
	defer guard(0, out, &status)
	reset(out)
	// F_DUPFD_CLOEXEC: the copy never leaks into a child started by fork+exec meanwhile.
	r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		putMessage(out, "redis-cache-go: rcg_async_open: cannot duplicate the wake-up descriptor: "+errno.Error())
		return C.RCG_ERR_ARGUMENT
	}
	own := int(r)
	asyncQueues.Add(1)
	out.num = C.int64_t(cgo.NewHandle(&asyncq{fd: own}))
	return C.RCG_OK
}

//export rcgx_async_close
func rcgx_async_close(qh C.uintptr_t, out *C.rcg_out) (status C.int) {
	defer guard(0, out, &status)
	reset(out)
	q := queueOf(qh)
	if q == nil {
		return closedQueue(out)
	}
	cgo.Handle(qh).Delete()
	q.mu.Lock()
	q.closed = true
	q.done = nil
	if q.inflight == 0 {
		q.release()
	}
	q.mu.Unlock()
	return C.RCG_OK
}

//export rcgx_async_submit
func rcgx_async_submit(qh C.uintptr_t, h C.uintptr_t, out *C.rcg_out, op C.int, ticket C.int64_t,
	a *C.uint8_t, alen C.size_t, b *C.uint8_t, blen C.size_t, n1, n2, n3, n4 C.int64_t) (status C.int) {
	defer guard(h, out, &status)
	reset(out)
	q := queueOf(qh)
	if q == nil {
		return closedQueue(out)
	}
	// The inputs are borrowed: copy them before returning.
	buf := make([]byte, int(alen)+int(blen))
	copy(buf, borrowed(a, alen))
	copy(buf[alen:], borrowed(b, blen))
	x := args{a: buf[:alen:alen], b: buf[alen:], n1: int64(n1), n2: int64(n2), n3: int64(n3), n4: int64(n4)}
	if st, msg := q.start(uintptr(h), int(op), int64(ticket), x); st != C.RCG_OK {
		putMessage(out, msg)
		return st
	}
	return C.RCG_OK
}

// submitRecord is the fixed part of one rcg_async_submit_many record: handle
// u64, op i32, ticket i64, n1 … n4 i64, len(a) u32, len(b) u32 (60 bytes,
// little-endian), then a and b.
const submitRecord = 60

// refusedNum marks the completion of an operation rcg_async_submit_many
// could not start (num = -1): nothing was done, as when rcg_async_submit
// refuses.
const refusedNum = -1

//export rcgx_async_submit_many
func rcgx_async_submit_many(qh C.uintptr_t, out *C.rcg_out, frame *C.uint8_t, flen C.size_t, count C.int64_t) (status C.int) {
	defer guard(0, out, &status)
	reset(out)
	q := queueOf(qh)
	if q == nil {
		return closedQueue(out)
	}
	// Check the whole frame before starting anything; the inputs are borrowed:
	// one copy of the frame holds every record's a and b.
	in := borrowed(frame, flen)
	n := int64(count)
	if n < 0 || n > int64(len(in))/submitRecord {
		return argError(out, fmt.Sprintf("rcg_async_submit_many: %d records cannot fit %d bytes", n, len(in)))
	}
	at := 0
	for i := int64(0); i < n; i++ {
		if len(in)-at < submitRecord {
			return argError(out, fmt.Sprintf("rcg_async_submit_many: record %d is cut short", i))
		}
		la := int(binary.LittleEndian.Uint32(in[at+52:]))
		lb := int(binary.LittleEndian.Uint32(in[at+56:]))
		if la > len(in) || lb > len(in) || len(in)-at-submitRecord < la+lb {
			return argError(out, fmt.Sprintf("rcg_async_submit_many: record %d is cut short", i))
		}
		at += submitRecord + la + lb
	}
	if at != len(in) {
		return argError(out, fmt.Sprintf("rcg_async_submit_many: %d bytes after the last record", len(in)-at))
	}
	buf := append([]byte(nil), in...)
	var gets batches
	for at = 0; n > 0; n-- {
		r := buf[at:]
		h := binary.LittleEndian.Uint64(r)
		op := int(int32(binary.LittleEndian.Uint32(r[8:])))
		ticket := int64(binary.LittleEndian.Uint64(r[12:]))
		la := int(binary.LittleEndian.Uint32(r[52:]))
		lb := int(binary.LittleEndian.Uint32(r[56:]))
		x := args{a: r[submitRecord : submitRecord+la : submitRecord+la], b: r[submitRecord+la : submitRecord+la+lb : submitRecord+la+lb],
			n1: int64(binary.LittleEndian.Uint64(r[20:])), n2: int64(binary.LittleEndian.Uint64(r[28:])),
			n3: int64(binary.LittleEndian.Uint64(r[36:])), n4: int64(binary.LittleEndian.Uint64(r[44:]))}
		at += submitRecord + la + lb
		// A record that cannot start completes with its refusal; once the queue is closed
		// (rcg_async_close meanwhile) nobody listens and its completions are dropped, as those
		// of the records already started will be: the call still reports RCG_OK, since
		// RCG_ERR_CLOSED would say that nothing was started.
		j, st, msg := q.prepare(uintptr(h), op, ticket, x)
		switch {
		case st != C.RCG_OK:
			if q.add() {
				q.push(completion{ticket: ticket, status: int32(st), num: refusedNum, data: []byte(msg)})
			}
		case op == C.RCG_OP_GET:
			gets.add(j) // started below, with the other GETs on its handle
		default:
			dispatch(j)
		}
	}
	gets.start()
	return C.RCG_OK
}

// add counts one more operation in flight on q; false when q is closed.
func (q *asyncq) add() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	q.inflight++
	asyncInflight.Add(1)
	return true
}

// start runs op on its own goroutine with x (owned), its completion queued
// on q with ticket; or returns why it could not start (nothing was done).
func (q *asyncq) start(h uintptr, op int, ticket int64, x args) (C.int, string) {
	j, st, msg := q.prepare(h, op, ticket, x)
	if st == C.RCG_OK {
		dispatch(j)
	}
	return st, msg
}

// prepare checks that op can start on handle h and counts it in flight on q
// (and on its handle: the job's run ends both); or returns why it cannot
// (nothing was done).
func (q *asyncq) prepare(h uintptr, op int, ticket int64, x args) (job, C.int, string) {
	e := lookup(C.uintptr_t(h))
	if e == nil || !e.enter() {
		return job{}, C.RCG_ERR_CLOSED, closedMessage
	}
	if msg := e.disabledMessage(); msg != "" {
		e.done()
		return job{}, C.RCG_ERR_INTERNAL, msg
	}
	if opOf(op) == nil {
		e.done()
		return job{}, C.RCG_ERR_ARGUMENT, fmt.Sprintf("redis-cache-go: invalid argument: unknown operation code %d", op)
	}
	if !q.add() {
		e.done()
		return job{}, C.RCG_ERR_CLOSED, "redis-cache-go: the completion queue is closed"
	}
	return job{e: e, q: q, op: op, ticket: ticket, x: x}, C.RCG_OK, ""
}

// rcgx_async_drain writes every queued completion as one record list:
// per completion int64 ticket, int32 status, int64 num, uint32 length and
// that many bytes (little-endian); out->num is the number of records.
//
//export rcgx_async_drain
func rcgx_async_drain(qh C.uintptr_t, out *C.rcg_out) (status C.int) {
	defer guard(0, out, &status)
	reset(out)
	q := queueOf(qh)
	if q == nil {
		return closedQueue(out)
	}
	q.mu.Lock()
	done := q.done
	q.done = nil
	q.mu.Unlock()
	size := 0
	for _, c := range done {
		size += 24 + len(c.data)
	}
	dst := reserve(out, size)[:0]
	for _, c := range done {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(c.ticket))
		dst = binary.LittleEndian.AppendUint32(dst, uint32(c.status))
		dst = binary.LittleEndian.AppendUint64(dst, uint64(c.num))
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(c.data)))
		dst = append(dst, c.data...)
	}
	out.num = C.int64_t(len(done))
	return C.RCG_OK
}

// rcgx_async_stats writes "inflight=N queues=Q": operations submitted and not
// yet completed, and open completion queues (tests and diagnostics).
//
//export rcgx_async_stats
func rcgx_async_stats(out *C.rcg_out) (status C.int) {
	defer guard(0, out, &status)
	reset(out)
	putBytes(out, fmt.Appendf(nil, "inflight=%d queues=%d", asyncInflight.Load(), asyncQueues.Load()))
	return C.RCG_OK
}

// runOp performs one operation of the ops table; a panic becomes
// RCG_ERR_INTERNAL and disables the handle, as in the sync exports.
func runOp(e *entry, code int, x args) (c completion) {
	defer func() {
		if r := recover(); r != nil {
			c = completion{status: C.RCG_ERR_INTERNAL, data: []byte(internalError(e, r))}
		}
	}()
	if msg := e.disabledMessage(); msg != "" {
		return completion{status: C.RCG_ERR_INTERNAL, data: []byte(msg)}
	}
	c.status = int32(opOf(code)(e, x, reply{c: &c}))
	return c
}
