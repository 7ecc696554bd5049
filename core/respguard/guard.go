// Package respguard checks the replies a Redis server sends before a RESP
// reader that trusts them (go-redis) sees them, so a broken or hostile
// server cannot crash the process or make it allocate far more than it
// received.
//
// Wrap a connection once, right after dialling:
//
//	conn, err := dialer.DialContext(ctx, network, addr)
//	if err == nil {
//		conn = respguard.Wrap(conn)
//	}
//
// Reads of the wrapped connection return the server's bytes unchanged, but
// only once they are checked: every reply line must end in CRLF and start
// with a RESP2 or RESP3 type byte; a bulk string may declare at most MaxLen
// bytes and an aggregate at most MaxLen items; aggregates nest at most
// MaxDepth deep; a line is at most a few bytes for a header and 1 MiB for
// anything else. A reply that breaks a rule makes the read fail with an
// error wrapping ErrProtocol (after the bytes before it were returned), and
// the reader then drops the connection, as go-redis does after any read
// error.
//
// A reader such as go-redis allocates what a header declares before the
// payload arrives (the bytes of a bulk string, a slot per aggregate item).
// So a header is returned only when the bytes already received for its
// reply cover what all the headers returned so far for that reply declare:
// CostRatio times the bytes received, plus 1 MiB. A reply a server really
// sends always meets this (a bulk string brings its own bytes, and every
// aggregate item takes at least three), so it only holds back the header of
// a reply whose payload is not there yet, reading on until it is; a
// declared-but-never-sent payload then ends in the read deadline, having
// cost a bounded multiple of what arrived.
package respguard

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// Limits on what a reply may declare.
const (
	// MaxLen bounds a bulk string's length and an aggregate's item count:
	// 512 MiB is Redis' own proto-max-bulk-len.
	MaxLen = 512 << 20
	// MaxDepth bounds aggregate nesting (the outermost aggregate is level
	// 1). Redis' own replies nest a few levels (COMMAND DOCS, CLUSTER
	// SHARDS: under 8); a script's reply nests as its tables do.
	MaxDepth = 32
	// CostRatio: the headers of a reply may declare at most CostRatio times
	// the bytes received for it, plus costSlack (see the package comment).
	CostRatio = 16
	costSlack = 1 << 20
	// itemCost is what a reader spends on one aggregate item before the item
	// arrives (an interface slot, a map entry).
	itemCost  = 32
	maxHeader = 32      // "$" and a length; longer is not a header
	maxLine   = 1 << 20 // a simple string, error or number
	readSize  = 32 << 10
)

// ErrProtocol is wrapped by the error a read returns when the reply breaks
// one of the rules above.
var ErrProtocol = errors.New("respguard: protocol error")

// Error is the error of a reply that breaks one of the rules above;
// errors.Is(err, ErrProtocol) holds for it. It unwraps to nothing, on
// purpose: go-redis hands a failed connection handshake's error back
// unwrapped once, which would leave only ErrProtocol's bare text.
type Error struct {
	msg string
	// Got is what the peer sent from the offending reply line on (at most
	// 64 bytes) when that line starts with a byte no RESP reply starts
	// with: the peer speaks another protocol (an HTTP or TLS server on the
	// cache's port). Nil for other errors.
	Got []byte
}

// Error says which rule the reply broke.
func (e *Error) Error() string { return ErrProtocol.Error() + ": " + e.msg }

// Is reports whether target is ErrProtocol.
func (e *Error) Is(target error) bool { return target == ErrProtocol }

func errProtocol(format string, args ...any) error {
	return &Error{msg: fmt.Sprintf(format, args...)}
}

// Conn is a net.Conn whose reads are checked as described in the package
// comment. Writes, deadlines and Close are the wrapped connection's.
type Conn struct {
	net.Conn
	buf       []byte // read but not yet returned: buf[r:w], of which buf[r:r+checked] is checked (len == cap)
	r, w      int
	checked   int
	s         scanner
	err       error // the first error: returned once the checked bytes are gone
	readError bool  // err came from the connection, not the scanner
}

// Wrap returns c with its reads checked: a *Conn, or, when c has a file
// descriptor (syscall.Conn, as a TCP or unix connection has), a *Conn that
// offers it too, so a pool can still check an idle connection's socket.
func Wrap(c net.Conn) net.Conn {
	if _, ok := c.(syscall.Conn); ok {
		return &fdConn{Conn{Conn: c}}
	}
	return &Conn{Conn: c}
}

// NetConn returns the wrapped connection, as *tls.Conn's NetConn does: a
// caller that needs the socket under a TLS connection unwraps both.
func (c *Conn) NetConn() net.Conn { return c.Conn }

// fdConn is a Conn over a connection with a file descriptor.
type fdConn struct{ Conn }

// SyscallConn returns the wrapped connection's; it fails while bytes the
// server sent are held here, since a connection with a reply pending
// between calls is not fit for reuse.
func (c *fdConn) SyscallConn() (syscall.RawConn, error) {
	if c.r < c.w || c.err != nil {
		return nil, errHeld
	}
	return c.Conn.Conn.(syscall.Conn).SyscallConn()
}

var errHeld = errors.New("respguard: unread reply bytes on the connection")

// Read returns checked bytes of the server's replies: the ones held back
// first, else it reads into p and returns the checked part of it, keeping
// the rest (a line not yet complete, a header not yet covered) for later.
func (c *Conn) Read(p []byte) (int, error) {
	for {
		if c.checked > 0 {
			n := copy(p, c.buf[c.r:c.r+c.checked])
			c.r += n
			c.checked -= n
			if c.r == c.w && len(c.buf) > 2*readSize {
				c.buf, c.r, c.w = nil, 0, 0 // a hold needed it; most reads do not
			}
			return n, nil
		}
		if c.err != nil {
			return 0, c.err
		}
		if c.r < c.w { // held bytes: read more behind them, check again
			if err := c.fill(); err != nil {
				c.err, c.readError = err, true
			}
			c.check()
			continue
		}
		if len(p) == 0 {
			return 0, nil
		}
		n, err := c.Conn.Read(p) // nothing held: straight into p
		c.s.received += int64(n)
		k, serr := c.s.scan(p[:n])
		if k < n { // keep what is not checked yet
			if cap(c.buf) < n-k {
				c.buf = make([]byte, max(n-k, readSize))
			}
			c.r, c.w = 0, copy(c.buf, p[k:n])
		}
		switch {
		case serr != nil:
			c.err = serr
		case err != nil:
			c.err, c.readError = err, true
		}
		if k > 0 {
			return k, nil
		}
	}
}

// fill reads more bytes behind the held ones, growing buf as needed.
func (c *Conn) fill() error {
	if c.r > 0 {
		c.w = copy(c.buf, c.buf[c.r:c.w])
		c.r = 0
	}
	if c.w+readSize > len(c.buf) {
		grown := make([]byte, max(2*len(c.buf), c.w+readSize))
		copy(grown, c.buf[:c.w])
		c.buf = grown
	}
	n, err := c.Conn.Read(c.buf[c.w : c.w+readSize])
	c.w += n
	c.s.received += int64(n)
	return err
}

// check scans the held bytes that are not checked yet.
func (c *Conn) check() {
	start := c.r + c.checked
	k, err := c.s.scan(c.buf[start:c.w])
	c.checked += k
	if err != nil && (c.err == nil || c.readError) {
		c.err, c.readError = err, false
	}
}

// scanner is the state of the reply stream between reads.
type scanner struct {
	received   int64 // bytes read from the connection
	pos        int64 // bytes checked
	replyStart int64 // pos where the current top-level reply began
	spent      int64 // what the current reply's returned headers declared
	bulkLeft   int64 // bytes (CRLF included) of the current bulk string not checked yet
	depth      int
	left       [MaxDepth]int64 // items still to come at each open level
}

// respFirstBytes holds the first byte of every RESP2 and RESP3 reply type.
const respFirstBytes = "+-:$*_,#!=(%~>|"

// scan checks b, the bytes that follow everything checked so far, and
// returns how many of them are checked. It stops early at a line that is
// not complete in b, or at a header the bytes received do not cover yet;
// an error is final.
func (s *scanner) scan(b []byte) (int, error) {
	i := 0
	for i < len(b) {
		if s.bulkLeft > 0 {
			k := int(min(s.bulkLeft, int64(len(b)-i)))
			i += k
			s.pos += int64(k)
			if s.bulkLeft -= int64(k); s.bulkLeft == 0 {
				s.itemDone()
			}
			continue
		}
		if bytes.IndexByte([]byte(respFirstBytes), b[i]) < 0 {
			got := bytes.Clone(b[i:min(len(b), i+64)])
			return i, &Error{msg: fmt.Sprintf("a reply starts with %q", got), Got: got}
		}
		nl := bytes.IndexByte(b[i:], '\n')
		if nl < 0 {
			if len(b)-i > maxLine {
				return i, errProtocol("a reply line longer than %d bytes", maxLine)
			}
			return i, nil
		}
		line := b[i : i+nl+1]
		if len(line) < 3 || line[len(line)-2] != '\r' {
			return i, errProtocol("a reply line %.40q does not end in CRLF", line)
		}
		if s.depth == 0 {
			s.replyStart, s.spent = s.pos, 0
		}
		ok, err := s.header(line)
		if err != nil || !ok {
			return i, err
		}
		i += len(line)
		s.pos += int64(len(line))
	}
	return i, nil
}

// header checks one reply line; false means it must wait for more bytes.
func (s *scanner) header(line []byte) (bool, error) {
	switch line[0] {
	case '+', '-', ':', '_', ',', '#', '(':
		s.itemDone()
		return true, nil
	case '$', '=', '!':
		n, err := length(line)
		if err != nil || n < 0 {
			if err == nil {
				s.itemDone()
			}
			return err == nil, err
		}
		if !s.afford(n) {
			return false, nil
		}
		s.bulkLeft = n + 2
		return true, nil
	case '*', '~', '>', '%', '|':
		n, err := length(line)
		if err != nil || n < 0 {
			if err == nil {
				s.itemDone()
			}
			return err == nil, err
		}
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		if s.depth == MaxDepth {
			return false, errProtocol("a reply nested more than %d levels deep", MaxDepth)
		}
		if !s.afford(itemCost * n) {
			return false, nil
		}
		if line[0] == '|' && s.depth > 0 {
			s.left[s.depth-1]++ // an attribute comes on top of the value it describes
		}
		if n == 0 {
			s.itemDone()
			return true, nil
		}
		s.left[s.depth] = n
		s.depth++
		return true, nil
	}
	return false, errProtocol("a reply line starts with %q", line[0])
}

// afford reports whether the current reply may declare cost more, and
// counts it when so.
func (s *scanner) afford(cost int64) bool {
	if s.spent+cost > costSlack+CostRatio*(s.received-s.replyStart) {
		return false
	}
	s.spent += cost
	return true
}

// itemDone records one complete item (closing every aggregate it completes).
func (s *scanner) itemDone() {
	for s.depth > 0 {
		if s.left[s.depth-1]--; s.left[s.depth-1] > 0 {
			return
		}
		s.depth--
	}
}

// length parses a header's length: -1 (null) or 0..MaxLen.
func length(line []byte) (int64, error) {
	digits := line[1 : len(line)-2]
	if len(digits) > maxHeader {
		return 0, errProtocol("a reply header %.40q is too long", line)
	}
	if string(digits) == "-1" {
		return -1, nil
	}
	if len(digits) == 0 {
		return 0, errProtocol("a reply header %q has no length", line)
	}
	var n int64
	for _, ch := range digits {
		if ch < '0' || ch > '9' {
			return 0, errProtocol("a reply header %q has a bad length", line)
		}
		if n = n*10 + int64(ch-'0'); n > MaxLen {
			return 0, errProtocol("a reply header declares %s, more than %d", strconv.Quote(string(line[:len(line)-2])), MaxLen)
		}
	}
	return n, nil
}
