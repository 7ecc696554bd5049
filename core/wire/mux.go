package wire

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// A mux is one connection shared by every concurrent call (auto-pipelining).
// A call encodes its command into the connection's pending bytes and joins
// the queue of calls awaiting replies, in the order their commands will
// reach the server. Two roles:
//
//   - the writer writes the pending bytes, and again whatever was added
//     while it wrote, so commands of concurrent calls leave in one write.
//     A call with nothing else in flight writes its own at once. With
//     calls in flight, a goroutine caller starts a flusher goroutine that
//     writes once the goroutines ready to run have queued theirs; a C
//     thread leaves its command to the reader, which writes the pending
//     bytes before it next waits on the socket (flushDeferred);
//   - the reader reads replies in queue order and completes the calls they
//     belong to. A caller that finds no reader becomes it (it is then first
//     in the queue); once its own call is complete and the replies already
//     buffered are dispatched, a reader that leaves calls waiting passes
//     the role on: to the first of them when it is a C thread (asleep
//     anyway, woken once), else to a goroutine (serve) that reads until the
//     queue is empty.
//
// A lone call takes both roles: it writes and reads on its own goroutine,
// with no hand-off, no goroutine and no batching delay, as an unshared
// connection would.
//
// A call that waits longer than its deadline, a broken socket or a reply
// that breaks the protocol kills the connection: the socket is shut down
// (waking a reader blocked on it), every call still queued fails, and the
// descriptor is closed once no role holder is inside a system call on it.
// Only the call whose time ran out gets a timeout; the others get
// abandonedError, or the broken socket's error, and Pool.do resends none
// that might have run, except by its resend rule.
type mux struct {
	p    *pool
	c    *conn // the reader's state (rbuf, read deadline); c.wbuf: pending bytes, under mu
	name string

	mu               sync.Mutex
	spare            []byte // a written buffer, kept for the next swap
	head, tail       *req   // calls awaiting replies, in order
	writing, reading bool   // roles held
	dead             error  // why the connection was killed; nil while usable
	closed           bool   // the descriptor is closed
	used             bool   // a call was queued before: the next one is "reused"
	last             time.Duration

	queued   atomic.Int32 // calls queued now (read without mu to pick a connection)
	deferred atomic.Bool  // pending bytes wait for the reader (flushDeferred)
	gone     atomic.Bool  // dead is set (read without mu)
}

// enqueue encodes r's command with encode into the pending bytes and queues
// r; it reports which roles the caller took. It fails when m was killed.
func (m *mux) enqueue(r *req, encode func(c *conn)) (write, read bool, err error) {
	m.mu.Lock()
	if m.dead != nil {
		m.mu.Unlock()
		return false, false, m.dead
	}
	encode(m.c)
	r.queued = true
	r.reused = m.used
	m.used = true
	if m.tail == nil {
		m.head = r
	} else {
		m.tail.next = r
	}
	alone := m.head == r
	m.tail = r
	m.queued.Add(1)
	switch {
	case m.writing:
	case alone: // nothing else in flight: write at once
		m.writing, write = true, true
	case r.thread: // the reader writes it before it next waits (flushDeferred)
		m.deferred.Store(true)
	default: // calls in flight: a flusher writes after the goroutines that are ready to run queued theirs
		m.writing = true
		go m.flush()
	}
	if !m.reading {
		m.reading, read = true, true
	}
	m.mu.Unlock()
	return write, read, nil
}

// flushDeferred writes the pending bytes if a C thread left them for the
// reader and no writer is at work: the reader calls it before it waits on
// the socket (conn.beforeWait) and before it hands its role on, so the
// commands queued during one round trip leave in one write and their
// replies come back together.
func (m *mux) flushDeferred() {
	if !m.deferred.Load() {
		return
	}
	m.mu.Lock()
	m.deferred.Store(false)
	if m.writing || len(m.c.wbuf) == 0 || m.dead != nil {
		m.mu.Unlock()
		return
	}
	m.writing = true
	m.mu.Unlock()
	m.writeLoop(nil)
}

// flush is the writer when calls are in flight: it lets the goroutines
// that are ready to run (others submitted with this one, say) queue their
// commands first, so they leave in one write.
func (m *mux) flush() {
	runtime.Gosched()
	m.writeLoop(nil)
}

// writeLoop writes the pending bytes until none are left. The caller, me,
// holds the writer role; it is released here.
func (m *mux) writeLoop(me *req) {
	m.mu.Lock()
	for {
		buf := m.c.wbuf
		if len(buf) == 0 || m.dead != nil {
			m.c.wbuf = buf[:0]
			m.writing = false
			m.retireLocked()
			m.mu.Unlock()
			return
		}
		m.c.wbuf, m.spare = m.spare[:0], nil
		m.mu.Unlock()
		m.p.writes.Add(1)
		err := writeAll(m.c.fd, buf, monotonic()+m.p.o.WriteTimeout, m.name)
		m.mu.Lock()
		if cap(buf) <= maxKeptWriteBuf {
			m.spare = buf[:0]
		}
		if err != nil {
			if m.dead == nil && me != nil {
				me.fail = err
			}
			m.killLocked(err)
		}
	}
}

// readLoop reads replies in order until me is complete, then dispatches
// the replies already buffered; calls still waiting after that get the
// role (see mux). The caller holds the reader role and is first in the
// queue, so every reply is read within the deadline of the call it
// belongs to. fresh: me just wrote its command, so the first wait may be
// the blocking read bounded by SO_RCVTIMEO (see fd.go). me == nil: serve's
// loop, which reads until the queue is empty.
func (m *mux) readLoop(me *req, fresh bool) {
	c := m.c
	mine := false
	for {
		m.mu.Lock()
		r := m.head
		if m.dead != nil {
			m.failAllLocked(me)
			m.reading = false
			m.retireLocked()
			m.mu.Unlock()
			return
		}
		if r == nil {
			if c.r < c.w { // bytes after the last reply, which no call asked for: the stream is not ours
				m.killLocked(errProtocol("reply bytes that no command asked for"))
			}
			m.reading = false
			m.retireLocked()
			m.mu.Unlock()
			return
		}
		if mine && c.r >= c.w { // mine is done, nothing buffered: the rest is read by another
			if r.thread { // a thread, asleep anyway: it reads on, woken once
				r.role = true
				m.mu.Unlock()
				m.flushDeferred() // its command, and those queued with it, on the wire first
				signal(r)
				return
			}
			m.mu.Unlock()
			go m.readLoop(nil, false)
			return
		}
		m.mu.Unlock()
		if fresh && r == me {
			c.begin(m.p.o.ReadTimeout)
		} else {
			c.timeout, c.deadline = m.p.o.ReadTimeout, r.deadline
		}
		fresh = false
		c.replied = c.r < c.w
		err := m.readOne(r)
		r.replied = r.replied || c.replied
		if err != nil && !isServerError(err) {
			if isTimeout(err) {
				r.timedOut = true
			}
			m.mu.Lock()
			m.killLocked(err)
			m.mu.Unlock()
			continue
		}
		r.err = err
		m.mu.Lock()
		m.head = r.next
		if m.head == nil {
			m.tail = nil
		}
		r.next = nil
		r.popped = true
		m.queued.Add(-1)
		m.last = monotonic()
		m.mu.Unlock()
		if r == me {
			mine = true
			continue
		}
		signal(r)
	}
}

// readOne runs r's reply reader, turning a panic in it (a caller's each
// function, say) into an error that kills the connection: where the stream
// stands is then unknown.
func (m *mux) readOne(r *req) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: panic while reading a reply to %s: %v", ErrProtocol, r.op, v)
		}
	}()
	return r.read(m.c, r)
}

// failAllLocked completes every queued call with the reason m died; me
// (the reader) is completed without a signal.
func (m *mux) failAllLocked(me *req) {
	for r := m.head; r != nil; {
		next := r.next
		r.next = nil
		r.popped = true
		r.err = m.failure(r)
		m.queued.Add(-1)
		if r != me {
			signal(r)
		}
		r = next
	}
	m.head, m.tail = nil, nil
}

// failure is the error a queued call gets when m was killed.
func (m *mux) failure(r *req) error {
	switch {
	case r.fail != nil:
		return r.fail
	case r.timedOut, monotonic() >= r.deadline:
		return &timeoutError{op: "read " + m.name}
	case isTimeout(m.dead):
		return &abandonedError{name: m.name}
	}
	return m.dead
}

func isTimeout(err error) bool {
	var te *timeoutError
	return errors.As(err, &te)
}

// killLocked marks m dead for cause (the first cause stays) and shuts the
// socket down, which wakes a reader or writer waiting on it; the
// descriptor itself is closed by retireLocked.
func (m *mux) killLocked(cause error) {
	if m.dead != nil {
		return
	}
	m.dead = cause
	m.gone.Store(true)
	if !m.closed {
		_ = syscall.Shutdown(m.c.fd, syscall.SHUT_RDWR)
	}
	m.retireLocked()
}

// retireLocked closes the descriptor of a dead mux once no role holder can
// be inside a system call on it.
func (m *mux) retireLocked() {
	if m.dead != nil && !m.closed && !m.reading && !m.writing {
		m.closed = true
		m.c.close()
	}
}

// wait waits for r's completion or the reader role, bounded by r's
// deadline: past it, the connection is killed (r fails with a timeout) and
// wait goes on waiting for the completion, which then comes at once.
func (m *mux) wait(r *req) {
	if r.thread {
		if !futexSleep(&r.state, r.deadline) {
			m.timedOut(r)
			futexSleep(&r.state, -1)
		}
		return
	}
	left := r.deadline - monotonic()
	if left > 0 {
		if r.timer == nil {
			r.timer = time.NewTimer(left)
		} else {
			r.timer.Reset(left)
		}
		select {
		case <-r.done:
			r.timer.Stop()
			return
		case <-r.timer.C:
		}
	}
	m.timedOut(r)
	<-r.done
}

// timedOut kills m for r, whose deadline passed, unless r was completed or
// handed the reader role meanwhile.
func (m *mux) timedOut(r *req) {
	m.mu.Lock()
	if !r.popped && !r.role {
		r.timedOut = true
		m.killLocked(&timeoutError{op: "read " + m.name})
	}
	m.mu.Unlock()
}

// call runs r on m: queues its command, takes the roles it is given (the
// reader's, as readLoop) or waits for its completion. r.err is set when call returns.
func (m *mux) call(r *req, encode func(c *conn)) {
	r.deadline = monotonic() + m.p.o.WriteTimeout + m.p.o.ReadTimeout
	write, read, err := m.enqueue(r, encode)
	if err != nil {
		r.err = err
		return
	}
	if write {
		m.writeLoop(r)
	}
	if !read {
		m.wait(r)
		if !r.role {
			return
		}
	}
	m.readLoop(r, write && read)
}
