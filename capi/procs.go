package main

import (
	"os"
	"runtime"
)

// minProcs is the smallest GOMAXPROCS the library runs with (unless the
// GOMAXPROCS environment variable sets one).
//
// Every call from Python enters Go on the calling (C) thread, takes a P, and
// gives it back in the "syscall" state when it returns to C; the blocking
// read of a GET is a system call too. With a single P (a process pinned to
// one CPU, or a container limited to one CPU, where Go picks GOMAXPROCS=1)
// sysmon finds no idle P and retakes the one in the syscall state whenever
// it stays there across one of its 20 µs ticks: it hands the P to another
// thread (a futex wake-up), the calling thread finds no P when it comes
// back and waits to be given one (more wake-ups), and sysmon, which keeps
// finding work, keeps polling every 20 µs. With a second, idle P sysmon
// leaves a P in a syscall alone for up to 10 ms and backs off to longer
// sleeps. Measured pinned to one CPU (perf stat over 3 s of rcg_get):
// nanosleep 3.2 K/s → 1.6 K/s, futex 450/s → 310/s, GETs +3-8 %.
const minProcs = 2

func init() {
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < minProcs {
		runtime.GOMAXPROCS(minProcs)
	}
}
