package wire

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// The socket is non-blocking and never registered with Go's network
// poller: reads and writes are first tried with RawSyscall (no scheduler
// hand-off; on one CPU the reply is often there already), and only when the
// kernel says EAGAIN does the call wait in ppoll(2), a normal syscall
// bounded by the remaining time of the call.

// dialFD connects like net.Dialer (DNS, timeout) and returns a duplicate of
// the socket's descriptor, non-blocking and close-on-exec, owned by the
// caller; the net.Conn is closed.
func dialFD(network, addr string, timeout time.Duration) (int, error) {
	d := net.Dialer{Timeout: timeout}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return -1, err
	}
	defer nc.Close()
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, errors.New("wire: connection has no file descriptor")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var dupErr error
	if err := raw.Control(func(s uintptr) {
		syscall.ForkLock.RLock()
		fd, dupErr = syscall.Dup(int(s))
		if dupErr == nil {
			syscall.CloseOnExec(fd)
		}
		syscall.ForkLock.RUnlock()
	}); err != nil {
		return -1, err
	}
	if dupErr != nil {
		return -1, os.NewSyscallError("dup", dupErr)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return -1, os.NewSyscallError("fcntl", err)
	}
	return fd, nil
}

// rawRead reads without blocking: n > 0 bytes, n == 0 at end of stream, or
// errno (EAGAIN when nothing is ready).
func rawRead(fd int, p []byte) (int, syscall.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), e
}

// rawWrite writes without blocking: how many bytes the kernel took, or
// errno (EAGAIN when the send buffer is full).
func rawWrite(fd int, p []byte) (int, syscall.Errno) {
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), e
}

// peekDead reports whether an idle connection was closed by the server (or
// has unexpected bytes waiting): a non-blocking MSG_PEEK sees EOF, data or
// an error instead of EAGAIN.
func peekDead(fd int) bool {
	var b [1]byte
	_, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	return e != syscall.EAGAIN
}

type pollFd struct {
	fd      int32
	events  int16
	revents int16
}

const (
	pollIn  = 0x1
	pollOut = 0x4
)

// wait blocks until fd is readable (or writable) or deadline passes; it
// returns false on timeout.
func wait(fd int, events int16, deadline time.Time) (bool, error) {
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false, nil
		}
		pfd := pollFd{fd: int32(fd), events: events}
		ts := syscall.NsecToTimespec(int64(left))
		n, _, e := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		switch {
		case e == syscall.EINTR:
			continue
		case e != 0:
			return false, os.NewSyscallError("ppoll", e)
		case n > 0:
			return true, nil // readable, writable, or an error/hang-up the next read or write reports
		}
	}
}
