package wire

import (
	"context"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The socket is never registered with Go's network poller: reads and writes
// are first tried with RawSyscall and MSG_DONTWAIT (no scheduler hand-off;
// on one CPU the reply is often there already). When the kernel says
// EAGAIN, the first wait of a call is one blocking read(2) bounded by the
// socket's SO_RCVTIMEO (= the read timeout, as the call has just begun);
// any later wait of the same call (a large reply, a full send buffer) is a
// ppoll(2) bounded by what is left of the call's deadline.

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

// rawRead reads without blocking (MSG_DONTWAIT, whatever the descriptor's
// mode): n > 0 bytes, n == 0 at end of stream, or errno (EAGAIN when
// nothing is ready).
func rawRead(fd int, p []byte) (int, syscall.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	n, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)),
		syscall.MSG_DONTWAIT, 0, 0)
	return int(n), e
}

// blockingRead reads with a normal (scheduler-aware) system call that
// blocks until data arrives or the socket's SO_RCVTIMEO passes (EAGAIN).
func blockingRead(fd int, p []byte) (int, syscall.Errno) {
	n, _, e := syscall.Syscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), e
}

// rawWrite writes without blocking and without SIGPIPE: how many bytes the
// kernel took, or errno (EAGAIN when the send buffer is full).
func rawWrite(fd int, p []byte) (int, syscall.Errno) {
	n, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)),
		syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL, 0, 0)
	return int(n), e
}

// setBlocking puts fd in blocking mode with SO_RCVTIMEO = timeout, so a
// blocking read never outlives the timeout.
func setBlocking(fd int, timeout time.Duration) error {
	tv := syscall.NsecToTimeval(int64(timeout))
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return os.NewSyscallError("setsockopt", err)
	}
	if err := syscall.SetNonblock(fd, false); err != nil {
		return os.NewSyscallError("fcntl", err)
	}
	return nil
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

// wait blocks until fd is readable (or writable) or deadline (a monotonic
// reading) passes; it returns false on timeout.
func wait(fd int, events int16, deadline time.Duration) (bool, error) {
	for {
		left := deadline - monotonic()
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

const (
	futexWaitPrivate = 0 | 128 // FUTEX_WAIT | FUTEX_PRIVATE_FLAG
	futexWakePrivate = 1 | 128 // FUTEX_WAKE | FUTEX_PRIVATE_FLAG
)

// futexSleep blocks the calling thread until *addr is not 0 or deadline (a
// monotonic reading; < 0: none) passes; it reports whether *addr is set.
func futexSleep(addr *uint32, deadline time.Duration) bool {
	for atomic.LoadUint32(addr) == 0 {
		var ts *syscall.Timespec
		if deadline >= 0 {
			left := deadline - monotonic()
			if left <= 0 {
				return false
			}
			t := syscall.NsecToTimespec(int64(left))
			ts = &t
		}
		syscall.Syscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWaitPrivate, 0,
			uintptr(unsafe.Pointer(ts)), 0, 0) // EAGAIN (already set), EINTR, ETIMEDOUT: the loop decides
	}
	return true
}

// futexWake wakes a thread sleeping in futexSleep on addr.
func futexWake(addr *uint32) {
	syscall.Syscall(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWakePrivate, 1)
}
