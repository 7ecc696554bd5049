package wire

import (
	"bytes"
	"syscall"
	"testing"
	"time"
)

func BenchmarkGet(b *testing.B) {
	s := startServer(b)
	for _, mode := range []string{"blocking-read", "try-then-blocking-read", "try-then-ppoll"} {
		b.Run(mode, func(b *testing.B) {
			defer func(v, w bool) { blockingFirstRead, skipTryRead = v, w }(blockingFirstRead, skipTryRead)
			blockingFirstRead = mode != "try-then-ppoll"
			skipTryRead = mode == "blocking-read"
			p := New(Options{Addr: s.addr})
			defer p.Close()
			if _, err := p.Set("bench", bytes.Repeat([]byte("x"), 100), 0, false); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				if _, _, err := p.Get("bench"); err != nil {
					b.Fatal(err)
				}
			}
			// CPU of this process per call (all its threads, not the server's):
			// stable on a busy machine, where ns/op is not.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkMGet100(b *testing.B) {
	s := startServer(b)
	p := New(Options{Addr: s.addr})
	defer p.Close()
	keys := make([]string, 100)
	vals := make([][]byte, 100)
	for i := range keys {
		keys[i] = "k" + string(rune('0'+i%10)) + string(rune('a'+i/10))
		vals[i] = bytes.Repeat([]byte("v"), 50)
	}
	if err := p.SetMany(keys, vals, 0); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, err := p.MGet(keys); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}
