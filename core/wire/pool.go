// Package wire is a minimal RESP2 client for one plain (non-TLS) Redis
// server, tuned for the latency of single calls made from a C caller and
// for many concurrent ones: every call shares a few connections per server
// (auto-pipelining, mux.go). A lone call writes its command and reads its
// reply on the calling goroutine with raw system calls, without Go's
// network poller; concurrent calls have their commands written together
// and their replies read in order by one of them.
//
// It knows the few commands of a cache's hot path (GET, SET, DEL, EXISTS,
// EVALSHA, MGET, MSET and pipelined SETs). Everything else, TLS, Cluster and
// Sentinel stay with go-redis (core/client). Every call is bounded by the
// timeouts of Options; a connection that saw any error other than an error
// reply is closed with every call queued on it failed, never reused, so the
// next call dials afresh.
//
// A call whose connection had served calls before and broke before any
// byte of its reply arrived (EOF, ECONNRESET or EPIPE: the server closed it
// while it was idle, as CLIENT KILL, a restart, a proxy or an idle reaper
// do) is sent once more on a new connection when core/retry says the
// command may run twice; such a connection counts in Stats.StaleConns.
package wire

import (
	"context"
	"errors"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/retry"
)

// Options configures a Pool. Zero fields take the defaults stated.
type Options struct {
	// Network is "tcp" or "unix". Default: "tcp".
	Network string
	// Addr is "host:port", or the socket path for "unix". Required.
	Addr string
	// DB is selected on every new connection when non-zero. Default: 0.
	DB int
	// Username is the ACL user for AUTH (with Password). Default: none.
	Username string
	// Password, when non-empty, is sent with AUTH on every new connection.
	// Default: none.
	Password string
	// DialTimeout bounds connecting, AUTH and SELECT together. Default: 5s.
	DialTimeout time.Duration
	// ReadTimeout bounds waiting for the replies of one call. Default: 5s.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing the command of one call. Default:
	// ReadTimeout. A call waits at most WriteTimeout + ReadTimeout in all.
	WriteTimeout time.Duration
	// Conns is how many connections the Pool keeps to the server; calls
	// share them (auto-pipelining, see mux.go): a call takes an unbusy one,
	// else the one with the fewest calls queued, opening the next when all
	// open ones are busy. With 2 or more, calls from C threads (ForThreads)
	// use the first half and goroutines the rest (slotsFor). Default: 2.
	Conns int
	// MaxConns is an upper bound on Conns (MAX_CONNECTIONS). Default: 16.
	MaxConns int
}

const (
	defaultTimeout  = 5 * time.Second
	defaultConns    = 2
	defaultMaxConns = 16
	// staleAfter: a connection idle for longer is checked (a non-blocking
	// peek) before reuse, so a server restart costs no failed call.
	staleAfter = 10 * time.Millisecond
)

func (o Options) withDefaults() Options {
	if o.Network == "" {
		o.Network = "tcp"
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = defaultTimeout
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = defaultTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = o.ReadTimeout
	}
	if o.Conns <= 0 {
		o.Conns = defaultConns
	}
	if o.MaxConns <= 0 {
		o.MaxConns = defaultMaxConns
	}
	o.Conns = min(o.Conns, o.MaxConns)
	return o
}

// ErrClosed is returned by every call on a closed Pool.
var ErrClosed = errors.New("wire: client is closed")

// Pool holds the connections to one server. It is safe for concurrent
// use: concurrent calls share its few connections, their commands written
// together and their replies matched in order (mux.go). A call through
// the Pool New returns waits for its reply as goroutines do (parked by Go's
// scheduler); a call through ForThreads waits in the kernel.
type Pool struct {
	*pool
	threads bool
}

// ForThreads returns a view of p for callers that are OS threads entering
// Go from C (cgo callbacks, one call at a time per thread): a call that
// waits for a reply another caller reads sleeps in the kernel (a futex),
// and may be handed the reading itself, so waking it costs one system call
// and no work of Go's scheduler; with calls in flight its command is left
// for the reader to write with the others (mux.go). Calls through p and
// through the view share the same connections, Stats and Close.
func (p *Pool) ForThreads() *Pool { return &Pool{pool: p.pool, threads: true} }

// pool is what a Pool and its ForThreads view share.
type pool struct {
	o      Options
	name   string
	slots  []slot
	closed atomic.Bool

	open                atomic.Int64  // connections open now
	hits, dials, stales atomic.Uint64 // calls on an open connection, new connections, dead ones found
	writes              atomic.Uint64 // batches of commands written (tests: calls > writes under concurrency)
}

// slot is one of the Pool's connections: dial serialises opening it.
type slot struct {
	dial sync.Mutex
	m    atomic.Pointer[mux]
}

// Stats are a Pool's connection figures.
type Stats struct {
	Hits   uint64 // calls that found an open connection
	Misses uint64 // connections dialled
	// StaleConns counts connections found closed by the server and
	// replaced: by the check of an idle one before use, or by a call that
	// broke on one before any reply byte and was sent again.
	StaleConns uint64
	TotalConns uint64 // connections open now
	IdleConns  uint64 // of which with no call in flight
}

// Stats returns the Pool's connection figures.
func (p *Pool) Stats() Stats {
	idle := 0
	for i := range p.slots {
		if m := p.slots[i].m.Load(); m != nil && !m.gone.Load() && m.queued.Load() == 0 {
			idle++
		}
	}
	return Stats{Hits: p.hits.Load(), Misses: p.dials.Load(), StaleConns: p.stales.Load(),
		TotalConns: uint64(max(p.open.Load(), 0)), IdleConns: uint64(idle)}
}

// New returns a Pool for the server in o. It does not connect.
func New(o Options) *Pool {
	o = o.withDefaults()
	return &Pool{pool: &pool{o: o, name: o.Network + " " + o.Addr, slots: make([]slot, o.Conns)}}
}

// Close closes the connections; calls in flight fail with ErrClosed, as
// do later ones.
func (p *Pool) Close() error {
	p.closed.Store(true)
	for i := range p.slots {
		if m := p.slots[i].m.Load(); m != nil {
			m.mu.Lock()
			m.killLocked(ErrClosed)
			m.mu.Unlock()
		}
	}
	return nil
}

// pick returns the connection for a call: an open one with no call in
// flight (checked first when it was idle for a while), else a new one in
// an empty slot, else the open one with the fewest calls queued. resend:
// the call broke on a connection the server closed, and the others may be
// as dead (CLIENT KILL, a restart close them all): every idle one is
// checked, whatever its idle time (a busy one cannot be: its replies may
// be waiting; if it is dead, its calls learn it).
func (p *Pool) pick(resend bool) (*mux, error) {
	if p.closed.Load() {
		return nil, ErrClosed
	}
	slots, polled := p.slotsFor()
	var best *mux
	empty := -1
	for i := range slots {
		m := slots[i].m.Load()
		if m == nil || m.gone.Load() {
			if empty < 0 {
				empty = i
			}
			continue
		}
		q := m.queued.Load()
		if q == 0 {
			if m.alive(resend) {
				p.hits.Add(1)
				return m, nil
			}
			if empty < 0 {
				empty = i
			}
			continue
		}
		if best == nil || q < best.queued.Load() {
			best = m
		}
	}
	if empty < 0 {
		p.hits.Add(1)
		return best, nil
	}
	s := &slots[empty]
	if best != nil {
		if !s.dial.TryLock() { // being dialled: share a busy one meanwhile
			p.hits.Add(1)
			return best, nil
		}
	} else {
		s.dial.Lock()
	}
	defer s.dial.Unlock()
	if m := s.m.Load(); m != nil && !m.gone.Load() { // dialled while we waited
		p.hits.Add(1)
		return m, nil
	}
	c, err := p.dial(polled)
	if err != nil {
		if best != nil {
			p.hits.Add(1)
			return best, nil
		}
		return nil, err
	}
	m := &mux{p: p.pool, c: c, name: p.name, last: monotonic()}
	if !polled { // C threads' connections: only they leave commands to the reader
		c.beforeWait = m.flushDeferred
	}
	s.m.Store(m)
	if p.closed.Load() { // Close ran while we dialled
		m.mu.Lock()
		m.killLocked(ErrClosed)
		m.mu.Unlock()
		return nil, ErrClosed
	}
	return m, nil
}

// slotsFor returns the slots of p's callers: with two or more, C threads
// (ForThreads) use the first half (at least one) and goroutines the rest,
// whose connections stay with Go's network poller (polled, poll.go); with
// one, both share it (a raw one).
func (p *Pool) slotsFor() (slots []slot, polled bool) {
	n := len(p.slots)
	if n < 2 {
		return p.slots, false
	}
	if p.threads {
		return p.slots[:n/2], false
	}
	return p.slots[n/2:], true
}

// alive checks a connection with no call in flight: one idle for longer
// than staleAfter (any, with check) is peeked at, and killed when the
// server closed it.
func (m *mux) alive(check bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dead != nil {
		return false
	}
	if m.head != nil || (!check && monotonic()-m.last < staleAfter) {
		return true
	}
	if !peekDead(m.c.fd) {
		return true
	}
	m.p.stales.Add(1)
	m.killLocked(io.EOF)
	return false
}

// dial connects, authenticates and selects the database, all within
// DialTimeout.
func (p *Pool) dial(polled bool) (*conn, error) {
	start := monotonic()
	c := &conn{name: p.name, rbuf: make([]byte, readBufSize), open: &p.open}
	var err error
	if polled {
		c.nc, c.rc, c.fd, err = dialPolled(p.o.Network, p.o.Addr, p.o.DialTimeout)
	} else {
		c.fd, err = dialFD(p.o.Network, p.o.Addr, p.o.DialTimeout)
	}
	if err != nil {
		return nil, err
	}
	p.dials.Add(1)
	p.open.Add(1)
	if err := p.handshake(c, start); err != nil {
		c.close()
		return nil, err
	}
	if blockingFirstRead && !polled {
		if err := setBlocking(c.fd, p.o.ReadTimeout); err != nil {
			c.close()
			return nil, err
		}
		c.rcvTimeo = p.o.ReadTimeout
	}
	return c, nil
}

// blockingFirstRead selects the blocking first wait (see fd.go); false:
// every wait is a ppoll (kept for comparison in the benchmarks).
var blockingFirstRead = true

// skipTryRead makes the first read of a call the blocking one, without a
// non-blocking attempt first: right after the command was sent the reply
// is rarely there yet (measured with strace, client and server on one CPU:
// 98% EAGAIN), and a blocking read of data that is there returns at once.
var skipTryRead = true

// handshake sends AUTH and SELECT as needed and reads their replies.
func (p *Pool) handshake(c *conn, start time.Duration) error {
	if p.o.Password == "" && p.o.DB == 0 {
		return nil
	}
	c.begin(p.o.DialTimeout)
	c.deadline = start + p.o.DialTimeout
	replies := 0
	if p.o.Password != "" {
		if p.o.Username != "" {
			c.argc(3)
			c.arg("AUTH")
			c.arg(p.o.Username)
		} else {
			c.argc(2)
			c.arg("AUTH")
		}
		c.arg(p.o.Password)
		replies++
	}
	if p.o.DB != 0 {
		c.argc(2)
		c.arg("SELECT")
		c.arg(strconv.Itoa(p.o.DB))
		replies++
	}
	if err := c.flush(); err != nil {
		return err
	}
	var first error
	for ; replies > 0; replies-- {
		kind, _, _, err := c.header()
		if err != nil && !isServerError(err) {
			return err
		}
		if err == nil && kind != kindStatus {
			err = errProtocol("unexpected reply to AUTH/SELECT")
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// do runs one call r on a shared connection: encode writes its command,
// r.read reads its replies. When the connection had served calls before
// and broke before any byte of r's reply arrived, and cmd may run twice
// (retry.Resendable: cmd holds the name and options, the rest may be
// placeholders), r runs once more, on a newly dialled connection. A call
// that found its connection killed before its command was queued simply
// goes to another one (nothing was sent).
func (p *Pool) do(cmd []any, r *req, encode func(c *conn)) error {
	r.thread = p.threads
	resent := false
	for tries := 0; ; tries++ {
		m, err := p.pick(resent)
		if err != nil {
			return err
		}
		m.call(r, encode)
		err = r.err
		switch {
		case err == nil:
			return nil
		case !r.queued && tries < 3 && !p.closed.Load():
		case !resent && r.reused && !r.replied && broken(err) && retry.Resendable(cmd):
			resent = true
			p.stales.Add(1)
		default:
			return err
		}
		r.reset()
	}
}

// broken reports whether err is the peer closing the connection: EOF on a
// read, ECONNRESET or EPIPE on a read or write (not a timeout).
func broken(err error) bool {
	return err == io.EOF || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// threadKey marks a context of a call from an OS thread (OnThread).
type threadKey struct{}

// OnThread returns ctx marked as the context of a call made on an OS thread
// that entered Go from C and waits for the result (a cgo callback): clients
// send such calls through Pool.ForThreads.
func OnThread(ctx context.Context) context.Context { return context.WithValue(ctx, threadKey{}, true) }

// IsOnThread reports whether ctx was marked by OnThread.
func IsOnThread(ctx context.Context) bool { return ctx.Value(threadKey{}) != nil }
