package main

import (
	"os"
	"runtime"
)

// minProcs is the smallest GOMAXPROCS the library runs with (unless the
// GOMAXPROCS environment variable sets one).
//
// Every call from Python enters Go on the calling (C) thread and takes a P;
// when it returns to C, or blocks in a system call (the blocking read of a
// GET, a wait for a reply another thread reads), that P stays with the
// thread in the "syscall" state until sysmon retakes it, which it does only
// after a 20 µs tick and when no P is idle. With as many Ps as CPUs (Go's
// default; 2 on a small VM), a few threads waiting on Redis or running
// Python hold every P: the next thread that enters Go, or the goroutine
// that a reply wakes, waits for sysmon's retake and the futex wake-ups that
// go with it. With a P per concurrently calling thread, each finds an idle
// one at once. Measured on a 2-vCPU VM (bench/README.md, "Multiplexing"):
// 100 goroutines each doing one GET on the shared connection took 2.2-3.3
// ms with GOMAXPROCS=2 (every command written alone: the goroutines ran one
// after another) and 0.7-1.2 ms with 8 (17-29 writes); 8 Python threads
// doing gets, 33-35k ops/s with 2, 41-43k with 8. A lone call is the same
// either way: the extra Ps stay idle and cost nothing but a little memory.
const minProcs = 8

func init() {
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < minProcs {
		runtime.GOMAXPROCS(minProcs)
	}
}
