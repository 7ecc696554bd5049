package herd

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// memStore keeps values, flags and locks in memory (no TTLs): enough for
// the flight logic. The Redis side is covered against real servers by the
// Python tests (tests/python/test_herd.py).
type memStore struct {
	mu    sync.Mutex
	kv    map[string][]byte
	peeks atomic.Int64
}

func newMem() *memStore { return &memStore{kv: map[string][]byte{}} }

func (m *memStore) Peek(_ context.Context, key, fresh string) ([]byte, bool, bool, error) {
	m.peeks.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	v, found := m.kv[key]
	_, isFresh := m.kv[fresh]
	return v, found, isFresh, nil
}

func (m *memStore) Publish(_ context.Context, key, fresh string, v []byte, _, _ time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.kv[key], m.kv[fresh] = v, []byte("1")
	return nil
}

func (m *memStore) AcquireLock(_ context.Context, key, token string, _ time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, held := m.kv[key]; held {
		return false, nil
	}
	m.kv[key] = []byte(token)
	return true, nil
}

func (m *memStore) ReleaseLock(_ context.Context, key, token string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if string(m.kv[key]) != token {
		return false, nil
	}
	delete(m.kv, key)
	return true, nil
}

func (m *memStore) ExtendLock(context.Context, string, string, time.Duration, bool) (bool, error) {
	return true, nil
}

var ctx = context.Background()

func TestAsk(t *testing.T) {
	for _, tc := range []struct {
		name              string
		before            map[string]string
		wantValue         string
		wantTicket, stale bool
	}{
		{"cold", nil, "", true, false},
		{"fresh", map[string]string{"k": "v", "__fresh__k": "1"}, "v", false, false},
		{"stale, lock free", map[string]string{"k": "v"}, "", true, true},
		{"stale, lock held", map[string]string{"k": "v", "__lock__k": "x"}, "v", false, false},
	} {
		m := newMem()
		for k, v := range tc.before {
			m.kv[k] = []byte(v)
		}
		v, tk, err := New(m, Options{}).Ask(ctx, "k", time.Second)
		if err != nil || string(v) != tc.wantValue || (tk != nil) != tc.wantTicket {
			t.Errorf("%s: got %q, ticket %v, %v; want %q, ticket %v", tc.name, v, tk != nil, err, tc.wantValue, tc.wantTicket)
			continue
		}
		if tk != nil {
			if (tk.Stale != nil) != tc.stale || !tk.Locked() {
				t.Errorf("%s: got stale %q locked %v; want stale %v, locked", tc.name, tk.Stale, tk.Locked(), tc.stale)
			}
			if err := tk.Publish(ctx, []byte("new"), 0, 0); err != nil {
				t.Errorf("%s: publish: %v", tc.name, err)
			}
			if _, held := m.kv["__lock__k"]; held {
				t.Errorf("%s: got the lock still held after Publish; want it released", tc.name)
			}
		}
	}
}

func TestSingleFlight(t *testing.T) {
	g := New(newMem(), Options{})
	var computed atomic.Int64
	var wg sync.WaitGroup
	got := make([]string, 32)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A wait bound far beyond the computation: a pause on a loaded
			// machine must not let a follower take over.
			v, tk, err := g.Ask(ctx, "k", time.Minute)
			if err != nil {
				t.Error(err)
				return
			}
			if tk != nil {
				computed.Add(1)
				time.Sleep(50 * time.Millisecond) // the computation, not synchronisation
				v = []byte("value")
				if err := tk.Publish(ctx, v, 0, 0); err != nil {
					t.Error(err)
				}
			}
			got[i] = string(v)
		}()
	}
	wg.Wait()
	if computed.Load() != 1 {
		t.Fatalf("got %d computations; want 1", computed.Load())
	}
	for i, v := range got {
		if v != "value" {
			t.Fatalf("caller %d got %q; want %q", i, v, "value")
		}
	}
}

func TestAbandonLetsAFollowerCompute(t *testing.T) {
	m := newMem()
	g := New(m, Options{})
	_, first, _ := g.Ask(ctx, "k", time.Second)
	done := make(chan *Ticket)
	go func() {
		_, tk, _ := g.Ask(ctx, "k", time.Second)
		done <- tk
	}()
	if err := first.Abandon(ctx); err != nil {
		t.Fatal(err)
	}
	second := <-done
	if second == nil || !second.Locked() {
		t.Fatalf("got ticket %v after the leader abandoned; want a locked ticket", second)
	}
	if err := first.Publish(ctx, []byte("x"), 0, 0); err != errSpent {
		t.Fatalf("got %v publishing a spent ticket; want errSpent", err)
	}
	_ = second.Abandon(ctx)
}

func TestWaitsForAnotherProcessThenTakesOver(t *testing.T) {
	m := newMem()
	m.kv["__lock__k"] = []byte("other") // another process computes, no value yet
	g := New(m, Options{Poll: time.Millisecond})
	go func() {
		for m.peeks.Load() < 2 { // published once Ask has found it locked and polls
			time.Sleep(time.Millisecond)
		}
		_ = m.Publish(ctx, "k", "__fresh__k", []byte("theirs"), 0, 0)
	}()
	v, tk, err := g.Ask(ctx, "k", time.Minute)
	if err != nil || tk != nil || string(v) != "theirs" {
		t.Fatalf("got %q, ticket %v, %v; want %q", v, tk != nil, err, "theirs")
	}
	m.kv["__lock__j"] = []byte("stuck") // a lock that never goes away
	start := time.Now()
	_, tk, err = g.Ask(ctx, "j", 30*time.Millisecond)
	// Only a clock shows the wait is bounded; 1s is 30x the bound, for a
	// loaded machine.
	if err != nil || tk == nil || tk.Locked() || time.Since(start) > time.Second {
		t.Fatalf("got ticket %v, %v after %v; want an unlocked ticket after about 30ms", tk, err, time.Since(start))
	}
	_ = tk.Abandon(ctx)
}

func BenchmarkAskFresh(b *testing.B) {
	m := newMem()
	m.kv["k"], m.kv["__fresh__k"] = []byte("v"), []byte("1")
	g := New(m, Options{})
	for b.Loop() {
		if _, tk, _ := g.Ask(ctx, "k", time.Second); tk != nil {
			b.Fatal("ticket on a fresh key")
		}
	}
}
