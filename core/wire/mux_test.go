package wire

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// uniqueValue is caller g's value number i: no two callers ever write the
// same bytes, so a reply matched to the wrong call is seen.
func uniqueValue(g, i int) []byte { return []byte(fmt.Sprintf("caller-%d-value-%d", g, i)) }

func TestLoneCallsWriteOnceEach(t *testing.T) {
	s := startServer(t)
	p := New(Options{Addr: s.addr})
	defer p.Close()
	for i := 0; i < 20; i++ {
		if _, err := p.Set("k", []byte("v"), 0, false); err != nil {
			t.Fatal(err)
		}
		if _, _, err := p.Get("k"); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.writes.Load(); got != 40 {
		t.Fatalf("40 sequential calls: got %d writes; want 40 (a lone call writes at once, alone)", got)
	}
	if st := p.Stats(); st.Misses != 1 {
		t.Fatalf("sequential calls: got %d dials; want 1", st.Misses)
	}
}

func TestConcurrentCallersShareConnectionsAndGetTheirOwnReplies(t *testing.T) {
	bothModes(t, testConcurrentCallersShareConnectionsAndGetTheirOwnReplies)
}

func testConcurrentCallersShareConnectionsAndGetTheirOwnReplies(t *testing.T, view func(*Pool) *Pool) {
	s := startServer(t)
	p := view(New(Options{Addr: s.addr, Conns: 2}))
	defer p.Close()
	const callers, rounds = 64, 80
	var wg sync.WaitGroup
	var wrong, calls atomic.Int64
	for g := 0; g < callers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("own:%d", g)
			for i := 0; i < rounds; i++ {
				want := uniqueValue(g, i)
				if _, err := p.Set(key, want, 60_000, false); err != nil {
					t.Error(err)
					return
				}
				got, _, err := p.Get(key)
				if err != nil {
					t.Error(err)
					return
				}
				v, pttl, _, err := p.GetTTL(key)
				if err != nil {
					t.Error(err)
					return
				}
				many, err := p.MGet([]string{key, "missing", key})
				if err != nil {
					t.Error(err)
					return
				}
				calls.Add(4)
				if !bytes.Equal(got, want) || !bytes.Equal(v, want) || pttl <= 0 || pttl > 60_000 ||
					!bytes.Equal(many[0], want) || many[1] != nil || !bytes.Equal(many[2], want) {
					wrong.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if wrong.Load() != 0 {
		t.Fatalf("got %d rounds with another caller's reply; want 0", wrong.Load())
	}
	st := p.Stats()
	if st.Misses > 2 || st.TotalConns > 2 {
		t.Fatalf("%d callers on Conns 2: got %d dials, %d open; want at most 2", callers, st.Misses, st.TotalConns)
	}
	if n := s.clients(t); n > 2 {
		t.Fatalf("INFO clients: got %d connections besides the asking one; want at most 2", n)
	}
	if w := p.writes.Load(); w >= uint64(calls.Load()) {
		t.Fatalf("%d calls from %d goroutines: got %d writes; want fewer (commands of concurrent calls written together)", calls.Load(), callers, w)
	}
}

// clients returns the server's connected_clients, less the connection that
// asks.
func (s *server) clients(t *testing.T) int {
	t.Helper()
	c := s.raw(t, "INFO", "clients")
	defer c.close()
	kind, n, _, err := c.header()
	if err != nil || kind != kindBulk {
		t.Fatalf("INFO clients: got kind %d, %v", kind, err)
	}
	body, err := c.bulkBody(n)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\r\n") {
		var v int
		if _, err := fmt.Sscanf(line, "connected_clients:%d", &v); err == nil {
			return v - 1
		}
	}
	t.Fatalf("INFO clients without connected_clients: %q", body)
	return 0
}

// TestKillsMidFlightNeverCrossReplies: 64 callers write and read values of
// their own while the server kills every connection again and again. Calls
// may fail (a connection error); a call that succeeds returns its caller's
// value: the last acknowledged one, or one whose write was not
// acknowledged. After the kills stop, every caller reads back its value.
func TestKillsMidFlightNeverCrossReplies(t *testing.T) {
	bothModes(t, testKillsMidFlightNeverCrossReplies)
}

func testKillsMidFlightNeverCrossReplies(t *testing.T, view func(*Pool) *Pool) {
	s := startServer(t)
	p := view(New(Options{Addr: s.addr, Conns: 2}))
	defer p.Close()
	const callers, rounds = 64, 80
	stop := make(chan struct{})
	killed := make(chan int64)
	go func() {
		var n int64
		for {
			select {
			case <-stop:
				killed <- n
				return
			default:
			}
			n += s.cmdline(t, "CLIENT", "KILL", "TYPE", "normal")
		}
	}()
	var wg sync.WaitGroup
	var wrong, failed, ok atomic.Int64
	for g := 0; g < callers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("own:%d", g)
			acked := -1 // the last value number acknowledged
			unacked := map[int]bool{}
			for i := 0; i < rounds; i++ {
				if _, err := p.Set(key, uniqueValue(g, i), 0, false); err != nil {
					failed.Add(1)
					unacked[i] = true
				} else {
					acked, unacked = i, map[int]bool{}
				}
				got, found, err := p.Get(key)
				if err != nil {
					failed.Add(1)
					continue
				}
				ok.Add(1)
				if !found {
					if acked >= 0 {
						wrong.Add(1)
					}
					continue
				}
				var cg, ci int
				if _, err := fmt.Sscanf(string(got), "caller-%d-value-%d", &cg, &ci); err != nil || cg != g ||
					(ci != acked && !unacked[ci]) {
					wrong.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	kills := <-killed
	if wrong.Load() != 0 {
		t.Fatalf("got %d reads of a value the caller did not write last; want 0", wrong.Load())
	}
	if kills == 0 || ok.Load() == 0 {
		t.Fatalf("got %d connections killed, %d successful reads, %d failed calls; want kills and successes", kills, ok.Load(), failed.Load())
	}
	for g := 0; g < callers; g++ {
		key := fmt.Sprintf("own:%d", g)
		if _, err := p.Set(key, uniqueValue(g, rounds), 0, false); err != nil {
			t.Fatalf("Set after the kills stopped: %v", err)
		}
		if got, _, err := p.Get(key); err != nil || !bytes.Equal(got, uniqueValue(g, rounds)) {
			t.Fatalf("Get after the kills stopped: got %q, %v; want %q", got, err, uniqueValue(g, rounds))
		}
	}
	t.Logf("%d connections killed; %d reads checked, %d calls failed", kills, ok.Load(), failed.Load())
}

// TestTimedOutCallDoesNotDesynchroniseOthers: a script that keeps the
// server busy past the read timeout. Calls pipelined with it wait for it
// (Redis writes the replies of one batch after running it all), so the
// first call to time out may be one of them: then the script's call fails
// as abandoned. Calls fail or get their own replies, and later calls never
// see the late reply of the script.
func TestTimedOutCallDoesNotDesynchroniseOthers(t *testing.T) {
	bothModes(t, testTimedOutCallDoesNotDesynchroniseOthers)
}

func testTimedOutCallDoesNotDesynchroniseOthers(t *testing.T, view func(*Pool) *Pool) {
	s := startServer(t, "--busy-reply-threshold", "5000")
	p := view(New(Options{Addr: s.addr, ReadTimeout: 150 * time.Millisecond, Conns: 1}))
	defer p.Close()
	for g := 0; g < 16; g++ {
		if _, err := p.Set(fmt.Sprintf("own:%d", g), uniqueValue(g, 0), 0, false); err != nil {
			t.Fatal(err)
		}
	}
	busy := NewScript(`local t = redis.call('TIME'); local s = t[1] * 1000000 + t[2]
		repeat local n = redis.call('TIME') until n[1] * 1000000 + n[2] - s > 400000
		return 7`)
	var wg sync.WaitGroup
	var evalErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _, evalErr = p.EvalInt(busy, "k", 0)
	}()
	var wrong atomic.Int64
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				got, _, err := p.Get(fmt.Sprintf("own:%d", g))
				if err == nil && !bytes.Equal(got, uniqueValue(g, 0)) {
					wrong.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	var ne net.Error
	var ab *abandonedError
	if !(errors.As(evalErr, &ne) && ne.Timeout()) && !errors.As(evalErr, &ab) {
		t.Fatalf("the busy script: got %v; want a timeout, or abandoned after another call's timeout", evalErr)
	}
	if wrong.Load() != 0 {
		t.Fatalf("got %d replies of another call; want 0", wrong.Load())
	}
	for g := 0; g < 16; g++ { // the script has ended by now or soon: later calls are in step
		var got []byte
		var err error
		for try := 0; try < 50; try++ {
			if got, _, err = p.Get(fmt.Sprintf("own:%d", g)); err == nil {
				break
			}
		}
		if err != nil || !bytes.Equal(got, uniqueValue(g, 0)) {
			t.Fatalf("Get after the timeout: got %q, %v; want %q", got, err, uniqueValue(g, 0))
		}
	}
}

func TestSilentServerFailsEveryQueuedCall(t *testing.T) {
	bothModes(t, testSilentServerFailsEveryQueuedCall)
}

func testSilentServerFailsEveryQueuedCall(t *testing.T, view func(*Pool) *Pool) {
	addr := silentServer(t)
	p := view(New(Options{Addr: addr, ReadTimeout: 150 * time.Millisecond, Conns: 1}))
	defer p.Close()
	var wg sync.WaitGroup
	var timeouts, abandoned, other atomic.Int64
	for g := 0; g < 50; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := p.Get(fmt.Sprintf("k%d", g))
			var ne net.Error
			var ab *abandonedError
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				timeouts.Add(1)
			case errors.As(err, &ab):
				abandoned.Add(1)
			default:
				other.Add(1)
				t.Errorf("a call to a silent server: got %v; want a timeout or abandoned", err)
			}
		}()
	}
	wg.Wait()
	if timeouts.Load() == 0 {
		t.Fatalf("got %d timeouts, %d abandoned; want at least one timeout", timeouts.Load(), abandoned.Load())
	}
	if p.Stats().TotalConns != 0 {
		t.Fatalf("a connection killed by a timeout is still open")
	}
}

func TestPanicWhileReadingFailsTheCallAndKillsOnlyThatConnection(t *testing.T) {
	s := startServer(t)
	p := New(Options{Addr: s.addr})
	defer p.Close()
	if _, err := p.Set("a", []byte("1"), 0, false); err != nil {
		t.Fatal(err)
	}
	err := p.MGetEach([]string{"a"}, func(int, []byte) { panic("caller's bug") })
	if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "caller's bug") {
		t.Fatalf("MGetEach whose each panics: got %v; want ErrProtocol naming the panic", err)
	}
	if v, _, err := p.Get("a"); err != nil || string(v) != "1" {
		t.Fatalf("Get after the panic: got %q, %v; want \"1\"", v, err)
	}
}

// bothModes runs test with the Pool as goroutines use it and as threads
// from C do (ForThreads: futex waits, inline writes, the reader role handed
// to a waiting thread).
func bothModes(t *testing.T, test func(t *testing.T, view func(*Pool) *Pool)) {
	t.Run("goroutines", func(t *testing.T) { test(t, func(p *Pool) *Pool { return p }) })
	t.Run("threads", func(t *testing.T) { test(t, (*Pool).ForThreads) })
}

// silentServer listens on a loopback port, accepts connections and never
// reads or answers; everything closes when the test ends.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var accepted []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted = append(accepted, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range accepted {
			c.Close()
		}
	})
	return l.Addr().String()
}

// idleSince returns when m last completed a call (a monotonic reading).
func (m *mux) idleSince() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}
