package client

import (
	"errors"
	"io"
	"net"
	"syscall"
	"unsafe"
)

// Every connection go-redis dials for a Client is wrapped (guardedDialer) so that
// the one failure worth a resend can be told apart: a connection that had
// answered an earlier command, reused from the pool, broke before any byte
// of the current reply arrived (the server, a proxy or a load balancer
// closed it while it sat idle). Its error becomes a *staleError wrapping the
// original; everything that classifies errors sees through it (Unwrap).

// staleError is a read or write error of a reused connection that broke
// before any reply byte of the current command arrived.
type staleError struct {
	err error
	// sent is false when the connection was found closed before the
	// command was written: nothing left the client.
	sent bool
}

func (e *staleError) Error() string { return e.err.Error() }
func (e *staleError) Unwrap() error { return e.err }

// errPeerClosed is the error of a TLS connection found closed by its peer
// before a command was written to it.
var errPeerClosed = errors.New("connection closed by the server while idle")

// trackedConn follows a connection's exchanges: a write after reply bytes
// starts a new one, and from the second exchange on the connection has
// answered before. One goroutine uses it at a time (go-redis' pool).
type trackedConn struct {
	net.Conn
	answered bool // a reply arrived in an earlier exchange
	replied  bool // a reply byte arrived since the last write
	// raw is the socket under a TLS connection, checked before a command
	// is written on a reused one (go-redis checks only plain sockets);
	// nil for a plain socket.
	raw syscall.Conn
}

// trackedSysConn is a trackedConn over a plain socket: it keeps the
// socket's SyscallConn, through which go-redis checks an idle connection
// before reusing it.
type trackedSysConn struct {
	*trackedConn
	sys syscall.Conn
}

// SyscallConn returns the socket's raw connection.
func (c trackedSysConn) SyscallConn() (syscall.RawConn, error) { return c.sys.SyscallConn() }

// track wraps a connection go-redis dialled.
func track(nc net.Conn) net.Conn {
	t := &trackedConn{Conn: nc}
	if sc, ok := nc.(syscall.Conn); ok {
		return trackedSysConn{trackedConn: t, sys: sc}
	}
	// The socket under TLS (and under respguard's wrapper): unwrap until
	// one has a file descriptor.
	for c := nc; t.raw == nil; {
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = u.NetConn()
		t.raw, _ = c.(syscall.Conn)
	}
	return t
}

// NetConn returns the wrapped connection (go-redis unwraps TLS this way).
func (c *trackedConn) NetConn() net.Conn { return c.Conn }

func (c *trackedConn) Write(b []byte) (int, error) {
	if c.replied {
		c.answered, c.replied = true, false
		if c.raw != nil && peerClosed(c.raw) {
			return 0, &staleError{err: errPeerClosed}
		}
	}
	n, err := c.Conn.Write(b)
	if err != nil && c.answered && broken(err) {
		err = &staleError{err: err, sent: true}
	}
	return n, err
}

func (c *trackedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.replied = true
	} else if err != nil && c.answered && !c.replied && broken(err) {
		err = &staleError{err: err, sent: true}
	}
	return n, err
}

// broken reports whether err is the peer closing the connection: EOF, or
// ECONNRESET or EPIPE (not a timeout).
func broken(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// peerClosed reports whether the peer of an idle socket has closed it: a
// poll that does not wait sees its FIN (POLLRDHUP), a hang-up or an error.
// Bytes waiting are no sign either way under TLS (a session ticket, or the
// close_notify sent just before the FIN), so they are not looked at.
func peerClosed(sc syscall.Conn) bool {
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	_ = rc.Control(func(fd uintptr) {
		pfd := struct {
			fd              int32
			events, revents int16
		}{fd: int32(fd), events: pollRDHUP}
		var ts syscall.Timespec // zero: do not wait
		n, _, e := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		closed = e == 0 && n > 0 && pfd.revents&(pollRDHUP|pollHUP|pollERR) != 0
	})
	return closed
}

// poll(2) events (Linux).
const (
	pollERR   = 0x8
	pollHUP   = 0x10
	pollRDHUP = 0x2000
)
