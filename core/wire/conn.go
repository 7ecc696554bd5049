package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// readBufSize is the size of a connection's read buffer; a bulk reply that
// does not fit is read straight into its own result slice.
const readBufSize = 32 << 10

// maxKeptWriteBuf: a write buffer grown past this by a large value is not
// kept for the next command.
const maxKeptWriteBuf = 256 << 10

// conn is one connection. It is used by one goroutine at a time (the pool
// hands it out); any error leaves it broken and it is closed, never reused.
type conn struct {
	fd      int
	name    string // "read tcp 127.0.0.1:6379" style prefix for messages
	rbuf    []byte
	r, w    int // unread bytes are rbuf[r:w]
	wbuf    []byte
	idle    time.Duration // when it went back to the pool (a monotonic reading)
	timeout time.Duration
	// deadline of the current wait (a monotonic reading); zero until the
	// first wait of a call.
	deadline time.Duration
	// open counts the owning Pool's open connections (nil: not counted).
	open *atomic.Int64
	// rcvTimeo is the socket's SO_RCVTIMEO when it is in blocking mode (the
	// first wait of a call with that timeout is a blocking read); 0: every
	// wait is a ppoll.
	rcvTimeo time.Duration
	// replied: a byte of the reply being read arrived (mux.readLoop).
	replied bool
	// nc and rc: the connection of a socket that stays with Go's network
	// poller (poll.go: goroutine callers), whose waits for replies park
	// the goroutine; nil: a raw descriptor of our own. armed: the read
	// deadline set on nc.
	nc    net.Conn
	rc    syscall.RawConn
	armed time.Duration
	// beforeWait, when set, runs before every read of the socket (the
	// mux's flushDeferred: commands left for the reader go out first).
	beforeWait func()
}

func (c *conn) close() {
	if c.fd >= 0 {
		if c.nc != nil {
			c.nc.Close()
		} else {
			syscall.Close(c.fd)
		}
		c.fd = -1
		if c.open != nil {
			c.open.Add(-1)
		}
	}
}

// timeoutError is a read or write that did not finish within its deadline.
type timeoutError struct{ op string }

func (e *timeoutError) Error() string   { return e.op + ": i/o timeout" }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }
func (e *timeoutError) Unwrap() error   { return os.ErrDeadlineExceeded }

// begin starts a call: its waits are bounded by timeout from now (the
// deadline is taken lazily, at the first wait).
func (c *conn) begin(timeout time.Duration) {
	c.timeout = timeout
	c.deadline = 0
}

// epoch anchors monotonic: time.Since of a monotonic reading costs one
// clock read, where time.Now costs two (wall and monotonic).
var epoch = time.Now()

// monotonic returns the time since epoch: a clock reading for idle times
// and deadlines, meaningless outside this process.
func monotonic() time.Duration { return time.Since(epoch) }

func (c *conn) waitFor(events int16, op string) error {
	if c.deadline == 0 {
		c.deadline = monotonic() + c.timeout
	}
	ok, err := wait(c.fd, events, c.deadline)
	if err != nil {
		return err
	}
	if !ok {
		return &timeoutError{op: op + " " + c.name}
	}
	return nil
}

// flush writes wbuf entirely.
func (c *conn) flush() error {
	p := c.wbuf
	for len(p) > 0 {
		n, e := rawWrite(c.fd, p)
		switch {
		case e == 0:
			p = p[n:]
		case e == syscall.EAGAIN:
			if err := c.waitFor(pollOut, "write"); err != nil {
				return err
			}
		case e == syscall.EINTR:
		default:
			return &os.SyscallError{Syscall: "write " + c.name, Err: e}
		}
	}
	if cap(c.wbuf) > maxKeptWriteBuf {
		c.wbuf = nil
	} else {
		c.wbuf = c.wbuf[:0]
	}
	return nil
}

// readInto reads at least one byte into p.
func (c *conn) readInto(p []byte) (int, error) {
	if c.beforeWait != nil {
		c.beforeWait()
	}
	if c.rc != nil {
		return c.pollRead(p)
	}
	for {
		var n int
		var e syscall.Errno
		if skipTryRead && c.deadline == 0 && c.rcvTimeo == c.timeout {
			n, e = 0, syscall.EAGAIN // straight to the blocking read (see skipTryRead)
		} else {
			n, e = rawRead(c.fd, p)
		}
		switch {
		case e == 0 && n > 0:
			c.replied = true
			return n, nil
		case e == 0:
			return 0, io.EOF
		case e == syscall.EAGAIN && c.deadline == 0 && c.rcvTimeo == c.timeout:
			c.deadline = monotonic() + c.timeout // later waits of this call: ppoll
			n, e = blockingRead(c.fd, p)
			switch {
			case e == 0 && n > 0:
				c.replied = true
				return n, nil
			case e == 0:
				return 0, io.EOF
			case e == syscall.EAGAIN: // SO_RCVTIMEO passed
				return 0, &timeoutError{op: "read " + c.name}
			case e != syscall.EINTR:
				return 0, &os.SyscallError{Syscall: "read " + c.name, Err: e}
			}
		case e == syscall.EAGAIN:
			if err := c.waitFor(pollIn, "read"); err != nil {
				return 0, err
			}
		case e == syscall.EINTR:
		default:
			return 0, &os.SyscallError{Syscall: "read " + c.name, Err: e}
		}
	}
}

// fill reads more bytes into rbuf, compacting it first.
func (c *conn) fill() error {
	if c.r > 0 {
		c.w = copy(c.rbuf, c.rbuf[c.r:c.w])
		c.r = 0
	}
	if c.w == len(c.rbuf) {
		return errProtocol("reply line too long")
	}
	n, err := c.readInto(c.rbuf[c.w:])
	c.w += n
	return err
}

// line returns the next reply line without its CRLF (valid until the next
// read).
func (c *conn) line() ([]byte, error) {
	for {
		if i := bytes.Index(c.rbuf[c.r:c.w], crlf); i >= 0 {
			l := c.rbuf[c.r : c.r+i]
			c.r += i + 2
			return l, nil
		}
		if err := c.fill(); err != nil {
			if errors.Is(err, io.EOF) && c.w > c.r && !StartsReply(c.rbuf[c.r]) {
				return nil, notRedis(c.rbuf[c.r:c.w], true)
			}
			return nil, err
		}
	}
}

var crlf = []byte("\r\n")

// readFull reads exactly len(p) bytes: first from rbuf, then straight
// from the socket.
func (c *conn) readFull(p []byte) error {
	n := copy(p, c.rbuf[c.r:c.w])
	c.r += n
	for n < len(p) {
		m, err := c.readInto(p[n:])
		if err != nil {
			return err
		}
		n += m
	}
	return nil
}

// discard skips exactly n bytes.
func (c *conn) discard(n int) error {
	for {
		k := min(n, c.w-c.r)
		c.r += k
		n -= k
		if n == 0 {
			return nil
		}
		c.r, c.w = 0, 0
		if err := c.fill(); err != nil {
			return err
		}
	}
}

// ServerError is an error reply ("-ERR ..."). It satisfies go-redis'
// redis.Error interface (RedisError method), so callers classify it as a
// server (or authentication) error exactly like a go-redis reply.
type ServerError string

// Error returns the reply text without the leading '-'.
func (e ServerError) Error() string { return string(e) }

// RedisError marks e as a reply from the server.
func (ServerError) RedisError() {}

// ErrProtocol is wrapped by every error about a reply that breaks RESP or
// the limits below; the connection that read it is closed, never reused.
var ErrProtocol = errors.New("wire: protocol error")

func errProtocol(what string) error { return fmt.Errorf("%w: %s", ErrProtocol, what) }

// Limits on what a reply may declare, checked as each header is read.
const (
	// maxLen bounds a bulk string's length and an array's item count: 512
	// MiB is Redis' own proto-max-bulk-len, so a longer one is not a reply
	// a server sends.
	maxLen = 512 << 20
	// maxDepth bounds the nesting of arrays in a reply (the outermost array
	// is level 1). The hot-path replies are flat (MGET is one array of bulk
	// strings); a deeper reply of the wrong type is a protocol error rather
	// than something to skip.
	maxDepth = 8
	// bulkPrealloc: a bulk string up to this length is allocated whole; a
	// longer one grows as its bytes arrive, so a declared length that is
	// never sent costs only what was received.
	bulkPrealloc = 1 << 20
)

// Kind of a parsed reply header.
const (
	kindNil = iota
	kindBulk
	kindInt
	kindStatus
	kindArray
)

// header reads a reply's first line: its kind and n (bulk length, integer
// value, array length); a status reply's text is in status (valid until the
// next read). An error reply is returned as a ServerError.
func (c *conn) header() (kind int, n int64, status []byte, err error) {
	l, err := c.line()
	if err != nil {
		return 0, 0, nil, err
	}
	if len(l) == 0 {
		return 0, 0, nil, errProtocol("empty reply line")
	}
	switch l[0] {
	case '+':
		return kindStatus, 0, l[1:], nil
	case '-':
		return 0, 0, nil, ServerError(l[1:])
	case ':', '$', '*':
		v, ok := parseInt(l[1:])
		if !ok {
			return 0, 0, nil, errProtocol("bad length " + strconv.Quote(string(l)))
		}
		switch {
		case l[0] == ':':
			return kindInt, v, nil, nil
		case v == -1:
			return kindNil, 0, nil, nil
		case v < 0 || v > maxLen:
			return 0, 0, nil, errProtocol("length out of range " + strconv.Quote(string(l)))
		case l[0] == '$':
			return kindBulk, v, nil, nil
		}
		return kindArray, v, nil, nil
	}
	if !StartsReply(l[0]) {
		return 0, 0, nil, notRedis(l, false)
	}
	return 0, 0, nil, errProtocol("unexpected reply " + strconv.Quote(string(l)))
}

// parseInt parses a reply's decimal integer; false when it is not one or
// does not fit an int64.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 { // 19 digits cannot overflow a uint64
		return 0, false
	}
	var v uint64
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		v = v*10 + uint64(ch-'0')
	}
	switch {
	case neg && v <= 1<<63:
		return int64(-v), true
	case !neg && v < 1<<63:
		return int64(v), true
	}
	return 0, false
}

// bulkBody reads a bulk reply's n bytes (n <= maxLen, as header checked)
// and CRLF into a fresh slice. Up to bulkPrealloc bytes are allocated at
// once; beyond, the slice doubles as the bytes arrive.
func (c *conn) bulkBody(n int64) ([]byte, error) {
	size := int(n)
	v := make([]byte, min(size, bulkPrealloc))
	if err := c.readFull(v); err != nil {
		return nil, err
	}
	for len(v) < size {
		v = slices.Grow(v, min(len(v), size-len(v)))
		at := len(v)
		v = v[:min(cap(v), size)]
		if err := c.readFull(v[at:]); err != nil {
			return nil, err
		}
	}
	return v, c.crlf()
}

func (c *conn) crlf() error {
	for c.w-c.r < 2 {
		if err := c.fill(); err != nil {
			return err
		}
	}
	if c.rbuf[c.r] != '\r' || c.rbuf[c.r+1] != '\n' {
		return errProtocol("bulk reply not followed by CRLF")
	}
	c.r += 2
	return nil
}

// skip reads and discards one whole reply of kind/n, nested arrays
// included up to maxDepth levels; deeper is a protocol error. It keeps one
// count per open level, so it neither recurses nor allocates.
func (c *conn) skip(kind int, n int64) error {
	switch kind {
	case kindBulk:
		return c.discard(int(n) + 2)
	case kindArray:
	default:
		return nil
	}
	var left [maxDepth]int64 // items still to read at each open level
	left[0] = n
	for depth := 1; depth > 0; {
		if left[depth-1] == 0 {
			depth--
			continue
		}
		left[depth-1]--
		k, m, _, err := c.header()
		switch {
		case err != nil && !isServerError(err):
			return err
		case err != nil:
		case k == kindBulk:
			if err := c.discard(int(m) + 2); err != nil {
				return err
			}
		case k == kindArray && depth == maxDepth:
			return errProtocol(fmt.Sprintf("reply nested more than %d arrays deep", maxDepth))
		case k == kindArray:
			left[depth] = m
			depth++
		}
	}
	return nil
}

func isServerError(err error) bool {
	_, ok := err.(ServerError)
	return ok
}

// --- command encoding -------------------------------------------------------

func (c *conn) argc(n int) {
	c.wbuf = append(c.wbuf, '*')
	c.wbuf = strconv.AppendInt(c.wbuf, int64(n), 10)
	c.wbuf = append(c.wbuf, '\r', '\n')
}

func (c *conn) arg(s string) {
	c.wbuf = append(c.wbuf, '$')
	c.wbuf = strconv.AppendInt(c.wbuf, int64(len(s)), 10)
	c.wbuf = append(c.wbuf, '\r', '\n')
	c.wbuf = append(c.wbuf, s...)
	c.wbuf = append(c.wbuf, '\r', '\n')
}

func (c *conn) argBytes(b []byte) {
	c.wbuf = append(c.wbuf, '$')
	c.wbuf = strconv.AppendInt(c.wbuf, int64(len(b)), 10)
	c.wbuf = append(c.wbuf, '\r', '\n')
	c.wbuf = append(c.wbuf, b...)
	c.wbuf = append(c.wbuf, '\r', '\n')
}

func (c *conn) argInt(v int64) {
	var tmp [20]byte
	c.argBytes(strconv.AppendInt(tmp[:0], v, 10))
}
