package wire

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// A connection for goroutine callers (see Pool.slotsFor) keeps its
// net.Conn: the socket stays non-blocking and registered with Go's network
// poller, so a reader that waits for replies parks its goroutine and frees
// its P, where a blocking read(2) would hold the P until sysmon retakes it
// (with GOMAXPROCS 2 that serialised a burst of goroutines: one ran while
// another sat in read). Reads and writes are still raw MSG_DONTWAIT system
// calls on its descriptor; only the waits go through the poller.

// dialPolled connects like dialFD but keeps the connection: its descriptor
// (owned by nc, valid until nc is closed) and its RawConn.
func dialPolled(network, addr string, timeout time.Duration) (net.Conn, syscall.RawConn, int, error) {
	d := net.Dialer{Timeout: timeout}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, nil, -1, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		nc.Close()
		return nil, nil, -1, errors.New("wire: connection has no file descriptor")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		nc.Close()
		return nil, nil, -1, err
	}
	fd := -1
	if err := rc.Control(func(s uintptr) { fd = int(s) }); err != nil {
		nc.Close()
		return nil, nil, -1, err
	}
	return nc, rc, fd, nil
}

// pollRead reads at least one byte into p, waiting in the network poller
// until the call's deadline.
func (c *conn) pollRead(p []byte) (int, error) {
	if c.deadline == 0 {
		c.deadline = monotonic() + c.timeout
	}
	if c.deadline != c.armed {
		if err := c.nc.SetReadDeadline(epoch.Add(c.deadline)); err != nil {
			return 0, err
		}
		c.armed = c.deadline
	}
	for {
		var n int
		var e syscall.Errno
		err := c.rc.Read(func(fd uintptr) bool {
			n, e = rawRead(int(fd), p)
			return e != syscall.EAGAIN
		})
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			return 0, &timeoutError{op: "read " + c.name}
		case err != nil:
			return 0, &os.SyscallError{Syscall: "read " + c.name, Err: err}
		case e == 0 && n > 0:
			c.replied = true
			return n, nil
		case e == 0:
			return 0, io.EOF
		case e != syscall.EINTR:
			return 0, &os.SyscallError{Syscall: "read " + c.name, Err: e}
		}
	}
}
