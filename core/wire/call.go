package wire

import (
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// req is one call on a mux: its reply reader, its inputs and results. It
// is pooled; done receives exactly one signal per call, when it completed
// (unless it completed itself, as the reader).
type req struct {
	read     func(c *conn, r *req) error
	next     *req
	done     chan struct{} // a goroutine's wake-up
	state    uint32        // a thread's wake-up (futex word): 1 once signalled
	thread   bool          // the caller is a thread from C (Pool.ForThreads): waits on state
	timer    *time.Timer
	deadline time.Duration

	// inputs of read
	op    string
	count int
	each  func(i int, v []byte)
	out   [][]byte

	// results
	val    []byte
	num    int64
	ok     bool
	getErr error // GetTTL: the GET's error reply, kept while PTTL is read
	err    error
	fail   error // when the connection dies: this call's own cause (its write timed out)

	// popped: completed (or failed) by a reader; role: handed the reader
	// role (both set under the mux's lock); queued: its command was queued;
	// replied: a byte of its reply may have arrived; reused: the
	// connection had served calls before.
	popped, role, queued, timedOut, replied, reused bool
}

// reset clears r's results and state for another try of the same call.
func (r *req) reset() {
	r.next, r.val, r.num, r.ok, r.getErr, r.err, r.fail = nil, nil, 0, false, nil, nil, nil
	r.popped, r.role, r.queued, r.timedOut, r.replied, r.reused = false, false, false, false, false, false
	atomic.StoreUint32(&r.state, 0)
}

var reqs = sync.Pool{New: func() any { return &req{done: make(chan struct{}, 1)} }}

func newReq() *req { return reqs.Get().(*req) }

func (r *req) free() {
	timer, done := r.timer, r.done
	*r = req{timer: timer, done: done} // state 0: a late futex wake of the last use is spurious
	reqs.Put(r)
}

// signal wakes r's caller: its call is complete, or (r.role, set under the
// mux's lock) it is the reader now.
func signal(r *req) {
	if r.thread {
		atomic.StoreUint32(&r.state, 1)
		futexWake(&r.state)
		return
	}
	r.done <- struct{}{}
}

// abandonedError fails the calls queued on a connection that was killed
// because another call on it timed out: their commands may have run. It is
// a timeout (net.Error): the server did not answer that connection in time.
type abandonedError struct{ name string }

func (e *abandonedError) Error() string {
	return "i/o timeout: connection " + e.name + " closed after another call on it timed out; this call's reply was lost (the command may have run)"
}

// Timeout reports true: see abandonedError.
func (e *abandonedError) Timeout() bool { return true }

// Temporary reports true, as for other timeouts.
func (e *abandonedError) Temporary() bool { return true }

// writeAll writes p entirely before deadline (a monotonic reading).
func writeAll(fd int, p []byte, deadline time.Duration, name string) error {
	for len(p) > 0 {
		n, e := rawWrite(fd, p)
		switch {
		case e == 0:
			p = p[n:]
		case e == syscall.EAGAIN:
			ok, err := wait(fd, pollOut, deadline)
			if err != nil {
				return err
			}
			if !ok {
				return &timeoutError{op: "write " + name}
			}
		case e == syscall.EINTR:
		default:
			return &syscallError{op: "write " + name, errno: e}
		}
	}
	return nil
}

// syscallError is os.SyscallError without the os import's allocation of a
// wrapper per use; it unwraps to the errno.
type syscallError struct {
	op    string
	errno syscall.Errno
}

func (e *syscallError) Error() string { return e.op + ": " + e.errno.Error() }
func (e *syscallError) Unwrap() error { return e.errno }
