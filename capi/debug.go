//go:build rcgdebug

// Test and bench exports (capi/redis_cache_go_debug.h), compiled only with -tags rcgdebug
// (`make build-debug`: build/debug/libredis_cache_go.so). The production library has none of
// them: tests/python/test_abi_table.py checks its dynamic symbols. RCG_DEBUG turns on their C
// entry points in guard.c (cgo applies a package's CFLAGS to every C file in it).
package main

/*
#cgo CFLAGS: -DRCG_DEBUG
#include <stdlib.h>
#include "redis_cache_go_debug.h"
*/
import "C"

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"github.com/redis-cache-go/redis-cache-go/core/frame"
)

//export rcgx_debug_panic
func rcgx_debug_panic(h C.uintptr_t, out *C.rcg_out) (status C.int) {
	defer guard(h, out, &status)
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	panic("rcg_debug_panic: deliberate panic for tests")
}

// Operations rcg_debug_repeat can repeat (RCG_REPEAT_* in the header).
const (
	repeatNoop    = 0 // resolve the handle only: the fixed cost of an export
	repeatGet     = 1 // frame [key]
	repeatSet     = 2 // frame [key, value]
	repeatGetMany = 3 // frame = the rcg_get_many frame
	repeatSetMany = 4 // frame = the rcg_set_many frame
	repeatNetConn = 5 // frame [addr, request, reply length]: the wire through net.Conn (the netpoller)
	repeatSyscall = 6 // the same through blocking read/write syscalls on the calling thread
)

//export rcgx_debug_repeat
func rcgx_debug_repeat(h C.uintptr_t, out *C.rcg_out, op C.int, buf *C.uint8_t, n C.size_t, ttlMS C.int64_t,
	count C.int64_t, prof *C.uint8_t, plen C.size_t) (status C.int) {
	defer guard(h, out, &status)
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	if count <= 0 {
		return argError(out, "repeat count must be positive")
	}
	items, err := frame.Decode(borrowed(buf, n))
	if err != nil {
		return argError(out, err.Error())
	}
	var call func() C.int
	ptr := func(b []byte) *C.uint8_t {
		if len(b) == 0 {
			return nil
		}
		return (*C.uint8_t)(unsafe.Pointer(&b[0]))
	}
	switch op {
	case repeatNoop:
		call = func() C.int {
			e, st := use(h, out)
			if e != nil {
				e.done()
			}
			return st
		}
	case repeatGet:
		if len(items) != 1 || items[0] == nil {
			return argError(out, "repeat get needs a frame of one key")
		}
		k := items[0]
		call = func() C.int { return rcgx_op(C.RCG_OP_GET, h, out, ptr(k), C.size_t(len(k)), nil, 0, 0, 0, 0, 0) }
	case repeatSet:
		if len(items) != 2 || items[0] == nil || items[1] == nil {
			return argError(out, "repeat set needs a frame of key, value")
		}
		k, v := items[0], items[1]
		call = func() C.int {
			return rcgx_op(C.RCG_OP_SET, h, out, ptr(k), C.size_t(len(k)), ptr(v), C.size_t(len(v)), ttlMS, 0, 0, 0)
		}
	case repeatGetMany:
		call = func() C.int { return rcgx_op(C.RCG_OP_GET_MANY, h, out, buf, n, nil, 0, 0, 0, 0, 0) }
	case repeatSetMany:
		call = func() C.int { return rcgx_op(C.RCG_OP_SET_MANY, h, out, buf, n, nil, 0, ttlMS, 0, 0, 0) }
	case repeatNetConn, repeatSyscall:
		if len(items) != 3 || items[0] == nil || items[1] == nil || items[2] == nil {
			return argError(out, "repeat wire needs a frame of addr, request, reply length")
		}
		want, err := strconv.Atoi(string(items[2]))
		if err != nil || want <= 0 {
			return argError(out, "repeat wire: bad reply length")
		}
		rt, closeFn, err := dialWire(op == repeatSyscall, string(items[0]), append([]byte(nil), items[1]...), want)
		if err != nil {
			return argError(out, "repeat wire: "+err.Error())
		}
		defer closeFn()
		call = func() C.int {
			if err := rt(); err != nil {
				putMessage(out, "redis-cache-go: repeat wire: "+err.Error())
				return C.RCG_ERR_CONNECTION
			}
			return C.RCG_OK
		}
	default:
		return argError(out, "unknown repeat operation")
	}
	if plen > 0 {
		f, err := os.Create(borrowedString(prof, plen))
		if err != nil {
			return argError(out, "cpu profile: "+err.Error())
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return argError(out, "cpu profile: "+err.Error())
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	for i := C.int64_t(0); i < count; i++ {
		st := call()
		if out.big != nil { // a result larger than the scratch buffer: not kept
			C.free(unsafe.Pointer(out.big))
			out.big = nil
		}
		if st != C.RCG_OK && st != C.RCG_MISS {
			return st // the call's message is in out
		}
	}
	elapsed := time.Since(start)
	reset(out)
	out.num = C.int64_t(elapsed.Nanoseconds())
	return C.RCG_OK
}

// dialWire connects to addr ("host:port", IPv4) and returns one round trip:
// write req, read exactly want bytes. With raw it uses blocking syscalls on
// the calling thread (no netpoller); otherwise a net.Conn.
func dialWire(raw bool, addr string, req []byte, want int) (func() error, func(), error) {
	buf := make([]byte, want+4096)
	if !raw {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return nil, nil, err
		}
		r := bufio.NewReaderSize(conn, len(buf))
		return func() error {
			if _, err := conn.Write(req); err != nil {
				return err
			}
			_, err := io.ReadFull(r, buf[:want])
			return err
		}, func() { conn.Close() }, nil
	}
	ap, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return nil, nil, err
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	sa := &syscall.SockaddrInet4{Port: ap.Port}
	copy(sa.Addr[:], ap.IP.To4())
	if err := syscall.Connect(fd, sa); err != nil {
		syscall.Close(fd)
		return nil, nil, err
	}
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	return func() error {
		for off := 0; off < len(req); {
			n, err := syscall.Write(fd, req[off:])
			if err != nil {
				return err
			}
			off += n
		}
		for got := 0; got < want; {
			n, err := syscall.Read(fd, buf[got:])
			if err != nil {
				return err
			}
			if n == 0 {
				return errors.New("connection closed")
			}
			got += n
		}
		return nil
	}, func() { syscall.Close(fd) }, nil
}
