package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// keys are the populated keys, each with a valueSize-byte value; next hands
// them out in turn, so consecutive calls (and the calls of one batch) read
// distinct keys.
var (
	keys   []string
	cursor atomic.Uint64
)

func next() string { return keys[cursor.Add(1)%uint64(len(keys))] }

// window returns n consecutive distinct keys.
func window(n int) []string {
	start := int(cursor.Add(uint64(n)) % uint64(len(keys)-n))
	return keys[start : start+n]
}

// lone: one goroutine, sequential GETs; each call's latency in µs.
func lone(g getter, calls int) ([]float64, error) {
	for i := 0; i < calls/10; i++ { // warm: connections dialled, buffers grown
		if err := check(g.get(next())); err != nil {
			return nil, err
		}
	}
	lat := make([]float64, calls)
	for i := range lat {
		k := next()
		t0 := time.Now()
		v, err := g.get(k)
		lat[i] = float64(time.Since(t0).Nanoseconds()) / 1e3
		if err := check(v, err); err != nil {
			return nil, err
		}
	}
	return lat, nil
}

func check(v []byte, err error) error {
	if err != nil {
		return err
	}
	if len(v) != valueSize {
		return fmt.Errorf("got a %d-byte value; want %d", len(v), valueSize)
	}
	return nil
}

// crowd: width goroutines, parked on a start barrier, each does one GET;
// the time from releasing them until the last one is done, in ms per
// batch. Also the connections the server accepted per batch (dials).
func crowd(g getter, m *monitor, width, batches int) (ms []float64, dials float64, err error) {
	batch := func() (time.Duration, error) {
		var ready, done sync.WaitGroup
		var failed atomic.Pointer[error]
		start := make(chan struct{})
		ready.Add(width)
		done.Add(width)
		for i := 0; i < width; i++ {
			k := next()
			go func() {
				defer done.Done()
				ready.Done()
				<-start
				if err := check(g.get(k)); err != nil {
					failed.Store(&err)
				}
			}()
		}
		ready.Wait()
		t0 := time.Now()
		close(start)
		done.Wait()
		d := time.Since(t0)
		if e := failed.Load(); e != nil {
			return d, *e
		}
		return d, nil
	}
	if _, err := batch(); err != nil { // warm
		return nil, 0, err
	}
	before := m.accepted()
	for i := 0; i < batches; i++ {
		d, err := batch()
		if err != nil {
			return nil, 0, err
		}
		ms = append(ms, float64(d.Nanoseconds())/1e6)
	}
	return ms, float64(m.accepted()-before) / float64(batches), nil
}

// throughput: a fresh client, workers goroutines doing GETs in a loop for
// d; ops/s, and the most connections it held at the server (INFO clients,
// sampled every 10 ms, less what was connected before it was opened).
func throughput(k kind, addr string, m *monitor, workers int, d time.Duration) (opsPerSec float64, conns int64, err error) {
	base := m.settled()
	g, err := k.open(addr)
	if err != nil {
		return 0, 0, err
	}
	defer g.close()
	if err := check(g.get(next())); err != nil {
		return 0, 0, err
	}
	var (
		stop   atomic.Bool
		ops    atomic.Int64
		failed atomic.Pointer[error]
		wg     sync.WaitGroup
		peak   int64
	)
	sampled := make(chan struct{})
	go func() { // the sampler
		defer close(sampled)
		for !stop.Load() {
			peak = max(peak, m.connected())
			time.Sleep(10 * time.Millisecond)
		}
	}()
	t0 := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := int64(0)
			for !stop.Load() {
				if err := check(g.get(next())); err != nil {
					failed.Store(&err)
					break
				}
				n++
			}
			ops.Add(n)
		}()
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(t0)
	<-sampled
	if e := failed.Load(); e != nil {
		return 0, 0, *e
	}
	return float64(ops.Load()) / elapsed.Seconds(), peak - base, nil
}

// hitLoop: goroutines goroutines each calling its own mk() for about d;
// wall ns per call over all of them (with one goroutine: the mean latency
// of a call), and the number of calls.
func hitLoop(goroutines int, d time.Duration, mk func() func() error) (float64, int64, error) {
	var (
		stop   atomic.Bool
		ops    atomic.Int64
		failed atomic.Pointer[error]
		wg     sync.WaitGroup
	)
	warm := mk()
	for i := 0; i < 1000; i++ {
		if err := warm(); err != nil {
			return 0, 0, err
		}
	}
	calls := make([]func() error, goroutines)
	for i := range calls {
		calls[i] = mk()
	}
	t0 := time.Now()
	for _, call := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := int64(0)
			for !stop.Load() {
				for i := 0; i < 64; i++ {
					if err := call(); err != nil {
						failed.Store(&err)
						stop.Store(true)
						break
					}
				}
				n += 64
			}
			ops.Add(n)
		}()
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(t0)
	if e := failed.Load(); e != nil {
		return 0, 0, *e
	}
	return float64(elapsed.Nanoseconds()) / float64(ops.Load()), ops.Load(), nil
}

// mgetLatency: sequential MGETs of n distinct keys; µs per call.
func mgetLatency(g getter, n, calls int) ([]float64, error) {
	run := func() (float64, error) {
		ks := window(n)
		t0 := time.Now()
		found, err := g.mget(ks)
		us := float64(time.Since(t0).Nanoseconds()) / 1e3
		if err == nil && found != n {
			err = fmt.Errorf("MGET found %d of %d keys", found, n)
		}
		return us, err
	}
	for i := 0; i < calls/10; i++ {
		if _, err := run(); err != nil {
			return nil, err
		}
	}
	lat := make([]float64, calls)
	for i := range lat {
		us, err := run()
		if err != nil {
			return nil, err
		}
		lat[i] = us
	}
	return lat, nil
}
