// Package wire is a minimal RESP2 client for one plain (non-TLS) Redis
// server, tuned for the latency of single calls made from a C caller: the
// command is written and the reply read on the calling goroutine with raw
// system calls, without Go's network poller, and a call only enters a
// blocking ppoll(2) when the reply is not there yet.
//
// It knows the few commands of a cache's hot path (GET, SET, DEL, EXISTS,
// EVALSHA, MGET, MSET and pipelined SETs). Everything else, TLS, Cluster and
// Sentinel stay with go-redis (core/client). Every call is bounded by the
// timeouts of Options; a connection that saw any error other than an error
// reply is closed, never reused, so the next call dials afresh.
//
// A call whose connection was reused from the pool and broke before any
// byte of its reply arrived (EOF, ECONNRESET or EPIPE: the server closed it
// while it was idle, as CLIENT KILL, a restart, a proxy or an idle reaper
// do) is sent once more on a new connection when core/retry says the
// command may run twice; such a connection counts in Stats.StaleConns.
package wire

import (
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
	// ReadTimeout.
	WriteTimeout time.Duration
	// MaxIdle is how many idle connections are kept for reuse; more
	// concurrent calls dial more connections, which are closed when they
	// come back to a full pool. Default: 16.
	MaxIdle int
}

const (
	defaultTimeout = 5 * time.Second
	defaultMaxIdle = 16
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
	if o.MaxIdle <= 0 {
		o.MaxIdle = defaultMaxIdle
	}
	return o
}

// ErrClosed is returned by every call on a closed Pool.
var ErrClosed = errors.New("wire: client is closed")

// Pool is a set of connections to one server. It is safe for concurrent
// use: each call takes a connection of its own (an idle one, or a new one).
type Pool struct {
	o      Options
	name   string
	mu     sync.Mutex
	idle   []*conn
	closed bool

	open                atomic.Int64  // connections open now
	hits, dials, stales atomic.Uint64 // idle reuses, new connections, idle ones found dead
}

// Stats are a Pool's connection figures.
type Stats struct {
	Hits   uint64 // calls that reused an idle connection
	Misses uint64 // connections dialled
	// StaleConns counts idle connections found closed by the server and
	// dropped: by the check before reuse, or by a call that broke on one
	// before any reply byte and was sent again.
	StaleConns uint64
	TotalConns uint64 // connections open now (idle or in use)
	IdleConns  uint64 // idle connections now
}

// Stats returns the Pool's connection figures.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	idle := len(p.idle)
	p.mu.Unlock()
	return Stats{Hits: p.hits.Load(), Misses: p.dials.Load(), StaleConns: p.stales.Load(),
		TotalConns: uint64(max(p.open.Load(), 0)), IdleConns: uint64(idle)}
}

// New returns a Pool for the server in o. It does not connect.
func New(o Options) *Pool {
	o = o.withDefaults()
	return &Pool{o: o, name: o.Network + " " + o.Addr}
}

// Close closes the idle connections; connections in use are closed when
// their call ends. Later calls fail with ErrClosed.
func (p *Pool) Close() error {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
	return nil
}

// get takes an idle connection or dials a new one.
func (p *Pool) get() (*conn, error) {
	p.mu.Lock()
	for {
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		n := len(p.idle)
		if n == 0 {
			break
		}
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if monotonic()-c.idle < staleAfter {
			p.mu.Unlock()
			p.hits.Add(1)
			return c, nil
		}
		p.mu.Unlock()
		if !peekDead(c.fd) {
			p.hits.Add(1)
			return c, nil
		}
		p.stales.Add(1)
		c.close()
		p.mu.Lock()
	}
	p.mu.Unlock()
	return p.dial()
}

// put returns c after a call that ended with err: kept when the call left
// it in a known state (no error, or an error reply read to its end).
func (p *Pool) put(c *conn, err error) {
	if err != nil && !isServerError(err) {
		c.close()
		return
	}
	c.idle = monotonic()
	c.reused = true
	p.mu.Lock()
	if p.closed || len(p.idle) >= p.o.MaxIdle {
		p.mu.Unlock()
		c.close()
		return
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// dial connects, authenticates and selects the database, all within
// DialTimeout.
func (p *Pool) dial() (*conn, error) {
	start := monotonic()
	fd, err := dialFD(p.o.Network, p.o.Addr, p.o.DialTimeout)
	if err != nil {
		return nil, err
	}
	p.dials.Add(1)
	p.open.Add(1)
	c := &conn{fd: fd, name: p.name, rbuf: make([]byte, readBufSize), open: &p.open}
	if err := p.handshake(c, start); err != nil {
		c.close()
		return nil, err
	}
	if blockingFirstRead {
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

// roundTrip writes the command in c.wbuf and prepares the reads of its
// replies.
func (p *Pool) roundTrip(c *conn) error {
	c.replied = false
	c.begin(p.o.WriteTimeout)
	if err := c.flush(); err != nil {
		return err
	}
	c.begin(p.o.ReadTimeout)
	return nil
}

// do runs one call: send encodes the command cmd into c.wbuf, sends it and
// reads the replies. When c was reused from the pool and broke before any
// reply byte arrived, and cmd may run twice (retry.Resendable: cmd holds
// the name and options, the rest may be placeholders), send runs once more
// on a newly dialled connection: the other idle ones may be as dead.
func (p *Pool) do(cmd []any, send func(c *conn) error) error {
	c, err := p.get()
	if err != nil {
		return err
	}
	err = send(c)
	if err != nil && c.reused && !c.replied && broken(err) && retry.Resendable(cmd) {
		p.stales.Add(1)
		p.put(c, err) // closes it
		if c, err = p.dial(); err != nil {
			return err
		}
		err = send(c)
	}
	p.put(c, err)
	return err
}

// broken reports whether err is the peer closing the connection: EOF on a
// read, ECONNRESET or EPIPE on a read or write (not a timeout).
func broken(err error) bool {
	return err == io.EOF || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
