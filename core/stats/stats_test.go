package stats

import (
	"encoding/json"
	"math"
	"sync"
	"testing"
	"time"
)

func TestBucketBounds(t *testing.T) {
	// Every value lands in a bucket whose bounds contain it, buckets are
	// contiguous, and a bucket is at most 1/8 of its lower bound wide.
	prevHi := uint64(0)
	for i := 0; i < Buckets; i++ {
		lo, hi := bounds(i)
		if lo != prevHi {
			t.Fatalf("bucket %d starts at %d; want %d (contiguous)", i, lo, prevHi)
		}
		if lo >= 16 && (hi-lo)*8 > lo {
			t.Fatalf("bucket %d = [%d, %d) is wider than 1/8 of its start", i, lo, hi)
		}
		prevHi = hi
	}
	for _, us := range []uint64{0, 1, 7, 15, 16, 17, 31, 32, 100, 999, 1000, 12345, 1 << 20, 1<<27 - 1} {
		i := bucket(us)
		lo, hi := bounds(i)
		if us < lo || us >= hi {
			t.Errorf("bucket(%d) = %d with bounds [%d, %d); want them to contain %d", us, i, lo, hi, us)
		}
	}
	if got := bucket(math.MaxUint64); got != Buckets-1 {
		t.Errorf("bucket(max) = %d; want the last bucket %d", got, Buckets-1)
	}
}

func TestPercentiles(t *testing.T) {
	tests := []struct {
		name   string
		values []time.Duration // recorded once each
		p50    float64         // true value; the reported one is >= and within 12.5%
		p99    float64
	}{
		{"uniform 1..1000 µs", seq(1, 1000, time.Microsecond), 500, 990},
		{"constant 250 µs", repeat(250*time.Microsecond, 100), 250, 250},
		{"one slow outlier", append(repeat(20*time.Microsecond, 999), 50*time.Millisecond), 20, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Histogram
			for _, v := range tt.values {
				h.Record(v)
			}
			l := h.Latency()
			if l.Count != uint64(len(tt.values)) {
				t.Fatalf("count %d; want %d", l.Count, len(tt.values))
			}
			check := func(what string, got, want float64) {
				if got < want || got > want*1.125+1 {
					t.Errorf("%s = %v µs; want in [%v, %v]", what, got, want, want*1.125+1)
				}
			}
			check("p50", l.P50, tt.p50)
			check("p99", l.P99, tt.p99)
			if !(l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
				t.Errorf("percentiles not ordered: %+v", l)
			}
		})
	}
}

func TestMaxAndMean(t *testing.T) {
	var h Histogram
	h.Record(10 * time.Microsecond)
	h.Record(30 * time.Microsecond)
	h.Record(-time.Second) // counts as zero
	l := h.Latency()
	if l.Max != 30 {
		t.Errorf("max %v; want 30", l.Max)
	}
	if math.Abs(l.Mean-40.0/3) > 1e-9 {
		t.Errorf("mean %v; want %v", l.Mean, 40.0/3)
	}
}

func TestEmptyHistogram(t *testing.T) {
	var h Histogram
	if l := h.Latency(); l != (Latency{}) {
		t.Errorf("empty histogram summary %+v; want zeros", l)
	}
}

func TestServerCounts(t *testing.T) {
	var s Server
	s.Observe(OpGet, time.Millisecond, OK)
	s.Lookup(true)
	s.Observe(OpGet, time.Millisecond, OK)
	s.Lookup(false)
	s.Observe(OpGetMany, time.Millisecond, OK)
	s.Lookups(3, 2)
	s.Observe(OpSet, time.Millisecond, ErrTimeout)
	s.Observe(OpOther, time.Millisecond, ErrConnection)
	s.Observe(Op(200), time.Millisecond, Outcome(200)) // out of range: other / other
	snap := s.Snapshot()
	want := map[string]uint64{"get": 2, "get_many": 1, "set": 1, "other": 2, "delete": 0, "pipeline": 0, "scan": 0, "script": 0}
	for k, v := range want {
		if snap.Calls[k] != v {
			t.Errorf("calls[%s] = %d; want %d", k, snap.Calls[k], v)
		}
	}
	if snap.Commands != 6 || snap.Hits != 4 || snap.Misses != 3 || snap.Errors != 3 {
		t.Errorf("commands/hits/misses/errors = %d/%d/%d/%d; want 6/4/3/3", snap.Commands, snap.Hits, snap.Misses, snap.Errors)
	}
	if snap.ErrorsByKind["timeout"] != 1 || snap.ErrorsByKind["connection"] != 1 || snap.ErrorsByKind["other"] != 1 {
		t.Errorf("errors by kind %v; want timeout 1, connection 1, other 1", snap.ErrorsByKind)
	}
	if _, ok := snap.ErrorsByKind["ok"]; ok {
		t.Errorf("errors by kind lists ok: %v", snap.ErrorsByKind)
	}
	if snap.Latency.Count != 6 {
		t.Errorf("latency count %d; want 6", snap.Latency.Count)
	}
	if _, err := json.Marshal(snap); err != nil {
		t.Fatalf("snapshot does not marshal: %v", err)
	}
}

func TestObserveSince(t *testing.T) {
	var s Server
	start := Now()
	for Now()-start < 50*time.Microsecond { // poll the clock, no sleep
	}
	s.ObserveSince(OpSet, start, OK)
	took := float64(Now()-start) / float64(time.Microsecond) // bounds what ObserveSince saw
	l := s.Snapshot().Latency
	if l.Count != 1 || l.Max < 50 || l.Max > took {
		t.Errorf("latency after a 50 µs wait: %+v; want 50 to %.0f µs", l, took)
	}
}

func TestNilServerIgnoresCalls(t *testing.T) {
	var s *Server
	s.ObserveSince(OpGet, Now(), OK)
	s.Observe(OpGet, time.Second, OK)
	s.Lookups(1, 1)
	s.Lookup(true)
	if snap := s.Snapshot(); snap.Commands != 0 || snap.Calls == nil {
		t.Errorf("nil server snapshot %+v; want empty maps and zero counts", snap)
	}
}

func TestOpOf(t *testing.T) {
	tests := map[string]Op{"GET": OpGet, "get": OpGet, "mget": OpGetMany, "SET": OpSet, "setex": OpSet,
		"unlink": OpDelete, "DEL": OpDelete, "scan": OpScan, "evalsha": OpScript, "ping": OpOther, "": OpOther}
	for name, want := range tests {
		if got := OpOf(name); got != want {
			t.Errorf("OpOf(%q) = %v; want %v", name, got, want)
		}
	}
}

func TestConcurrentObserve(t *testing.T) {
	var s Server
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10000; i++ {
				s.Observe(OpGet, time.Duration(i)*time.Microsecond, OK)
				s.Lookup(i%2 == 0)
			}
		}()
	}
	wg.Wait()
	snap := s.Snapshot()
	if snap.Calls["get"] != 80000 || snap.Hits != 40000 || snap.Misses != 40000 || snap.Latency.Count != 80000 {
		t.Errorf("after 8×10000 observations: %+v", snap)
	}
	if snap.Latency.Max != 9999 {
		t.Errorf("max %v; want 9999", snap.Latency.Max)
	}
}

func BenchmarkObserve(b *testing.B) {
	var s Server
	d := 42 * time.Microsecond
	for i := 0; i < b.N; i++ {
		s.Observe(OpGet, d, OK)
	}
}

func BenchmarkObserveParallel(b *testing.B) {
	var s Server
	b.RunParallel(func(pb *testing.PB) {
		d := 42 * time.Microsecond
		for pb.Next() {
			s.Observe(OpGet, d, OK)
		}
	})
}

func BenchmarkLookup(b *testing.B) {
	var s Server
	for i := 0; i < b.N; i++ {
		s.Lookup(i&1 == 0)
	}
}

// BenchmarkObserveWithClock includes the two clock reads a transport makes.
func BenchmarkObserveWithClock(b *testing.B) {
	var s Server
	for i := 0; i < b.N; i++ {
		start := time.Now()
		s.Observe(OpGet, time.Since(start), OK)
	}
}

// BenchmarkObserveSince is what a transport pays per command with Now.
func BenchmarkObserveSince(b *testing.B) {
	var s Server
	for i := 0; i < b.N; i++ {
		start := Now()
		s.ObserveSince(OpGet, start, OK)
	}
}

func BenchmarkSnapshot(b *testing.B) {
	var s Server
	for i := 0; i < 1000; i++ {
		s.Observe(OpGet, time.Duration(i)*time.Microsecond, OK)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = s.Snapshot()
	}
}

func seq(from, to int, unit time.Duration) []time.Duration {
	var out []time.Duration
	for i := from; i <= to; i++ {
		out = append(out, time.Duration(i)*unit)
	}
	return out
}

func repeat(d time.Duration, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}
