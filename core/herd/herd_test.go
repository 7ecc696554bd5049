package herd

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/expiry"
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

func (m *memStore) Peek(_ context.Context, keys []string) ([][]byte, []time.Duration, error) {
	m.peeks.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	vals, ttls := make([][]byte, len(keys)), make([]time.Duration, len(keys))
	for i, k := range keys {
		if v, ok := m.kv[k]; ok {
			vals[i], ttls[i] = append([]byte{}, v...), client.NoExpiry
		}
	}
	return vals, ttls, nil
}

func (m *memStore) Publish(_ context.Context, entries []client.Entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range entries {
		m.kv[e.Key] = e.Value
	}
	return nil
}

// publish stores v at k as get-or-set does (value, flag, tag).
func (m *memStore) publish(k string, v []byte) {
	_ = m.Publish(ctx, entries(k, v, 0, 0))
}

func (m *memStore) AcquireLock(_ context.Context, key, token string, _ expiry.TTL) (bool, error) {
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

func (m *memStore) ExtendLock(context.Context, string, string, expiry.TTL, bool) (bool, error) {
	return true, nil
}

var ctx = context.Background()

func TestAsk(t *testing.T) {
	ours := string(Tag([]byte("v")))
	for _, tc := range []struct {
		name              string
		before            map[string]string
		wantValue         string
		wantTicket, stale bool
		wantTag           string // the tag after Ask ("": none)
	}{
		{"cold", nil, "", true, false, ""},
		{"fresh", map[string]string{"k": "v", "__fresh__k": "2", "__herd__k": ours}, "v", false, false, ours},
		{"written by set", map[string]string{"k": "v"}, "v", false, false, ""},
		{"set over ours", map[string]string{"k": "w", "__herd__k": ours}, "w", false, false, ours},
		{"set over ours, still fresh", map[string]string{"k": "w", "__fresh__k": "2", "__herd__k": ours}, "w", false, false, ours},
		{"stale, lock free", map[string]string{"k": "v", "__herd__k": ours}, "", true, true, ours},
		{"stale, lock held", map[string]string{"k": "v", "__herd__k": ours, "__lock__k": "x"}, "v", false, false, ours},
		{"fresh by the seed: adopted", map[string]string{"k": "v", "__fresh__k": "1"}, "v", false, false, ours},
		{"recomputed by the seed: adopted", map[string]string{"k": "v", "__fresh__k": "1", "__herd__k": "old"}, "v", false, false, ours},
	} {
		m := newMem()
		for k, v := range tc.before {
			m.kv[k] = []byte(v)
		}
		v, tk, err := New(m, Options{}).Ask(ctx, "k", 1000)
		if err != nil || string(v) != tc.wantValue || (tk != nil) != tc.wantTicket {
			t.Errorf("%s: got %q, ticket %v, %v; want %q, ticket %v", tc.name, v, tk != nil, err, tc.wantValue, tc.wantTicket)
			continue
		}
		if got := string(m.kv["__herd__k"]); got != tc.wantTag {
			t.Errorf("%s: got tag %q; want %q", tc.name, got, tc.wantTag)
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
			want := map[string]string{"k": "new", "__fresh__k": "2", "__herd__k": string(Tag([]byte("new")))}
			for k, w := range want {
				if got := string(m.kv[k]); got != w {
					t.Errorf("%s: after Publish got %s = %q; want %q", tc.name, k, got, w)
				}
			}
		}
	}
}

func TestTag(t *testing.T) {
	// The Python fallback client computes the same: hashlib.sha256(b"v").hexdigest()[:32].
	if got, want := string(Tag([]byte("v"))), "4c94485e0c21ae6c41ce1dfe7b6bface"; got != want {
		t.Fatalf("got Tag(v) = %q; want %q", got, want)
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
			v, tk, err := g.Ask(ctx, "k", 60_000)
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

func TestAbandonWithoutCauseLetsAFollowerCompute(t *testing.T) {
	m := newMem()
	g := New(m, Options{})
	_, first, _ := g.Ask(ctx, "k", 1000)
	done := make(chan *Ticket)
	go func() {
		_, tk, _ := g.Ask(ctx, "k", 1000)
		done <- tk
	}()
	waitFor(t, func() bool { return g.Waiting() == 1 })
	if n, err := first.Abandon(ctx, nil); n != 1 || err != nil {
		t.Fatalf("got %d, %v from Abandon; want 1 waiting, no error", n, err)
	}
	second := <-done
	if second == nil || !second.Locked() {
		t.Fatalf("got ticket %v after the leader abandoned; want a locked ticket", second)
	}
	if err := first.Publish(ctx, []byte("x"), 0, 0); err != errSpent {
		t.Fatalf("got %v publishing a spent ticket; want errSpent", err)
	}
	_, _ = second.Abandon(ctx, nil)
}

func TestAbandonHandsTheFailureToEveryWaitingCaller(t *testing.T) {
	m := newMem()
	g := New(m, Options{})
	_, leader, _ := g.Ask(ctx, "k", 1000)
	const followers = 15
	errs := make(chan error, followers)
	for range followers {
		go func() {
			v, tk, err := g.Ask(ctx, "k", 1000)
			if v != nil || tk != nil {
				t.Errorf("a follower got %q, ticket %v; want the failure", v, tk != nil)
			}
			errs <- err
		}()
	}
	waitFor(t, func() bool { return g.Waiting() == followers })
	boom := errors.New("boom")
	if n, err := leader.Abandon(ctx, boom); n != followers || err != nil {
		t.Fatalf("got %d, %v from Abandon; want %d waiting, no error", n, err, followers)
	}
	for range followers {
		err := <-errs
		var failed *FailedError
		if !errors.As(err, &failed) || !errors.Is(err, boom) || failed.Key != "k" {
			t.Fatalf("a follower got %v; want a FailedError wrapping boom", err)
		}
	}
	if _, held := m.kv["__lock__k"]; held || g.Waiting() != 0 {
		t.Fatalf("after Abandon: lock held %v, %d waiting; want neither", held, g.Waiting())
	}
	if _, tk, _ := g.Ask(ctx, "k", 1000); tk == nil {
		t.Fatal("the next caller after a failure got no ticket; want to compute again")
	}
}

func TestAFollowerThatStopsWaitingIsNotCounted(t *testing.T) {
	m := newMem()
	g := New(m, Options{})
	_, leader, _ := g.Ask(ctx, "k", 1000)
	short, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() {
		_, _, err := g.Ask(short, "k", 1000)
		done <- err
	}()
	waitFor(t, func() bool { return g.Waiting() == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v from a cancelled follower; want context.Canceled", err)
	}
	if n, _ := leader.Abandon(ctx, errors.New("boom")); n != 0 {
		t.Fatalf("got %d waiting; want 0 (the only follower left)", n)
	}
}

func TestGroupsSharingFlightsShareAComputation(t *testing.T) {
	m, fl := newMem(), NewFlights()
	a, b := New(m, Options{Flights: fl}), New(m, Options{Flights: fl})
	_, leader, _ := a.Ask(ctx, "k", 1000)
	got := make(chan []byte)
	go func() {
		v, tk, err := b.Ask(ctx, "k", 1000)
		if tk != nil || err != nil {
			t.Errorf("the other group got ticket %v, %v; want the leader's value", tk != nil, err)
		}
		got <- v
	}()
	waitFor(t, func() bool { return a.Waiting() == 1 && b.Waiting() == 1 })
	if err := leader.Publish(ctx, []byte("v"), 0, 0); err != nil {
		t.Fatal(err)
	}
	if v := <-got; string(v) != "v" {
		t.Fatalf("got %q; want v", v)
	}
}

// waitFor polls cond (no timing assumptions beyond the test's own deadline).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWaitsForAnotherProcessThenTakesOver(t *testing.T) {
	m := newMem()
	m.kv["__lock__k"] = []byte("other") // another process computes, no value yet
	g := New(m, Options{Poll: time.Millisecond})
	go func() {
		for m.peeks.Load() < 2 { // published once Ask has found it locked and polls
			time.Sleep(time.Millisecond)
		}
		m.publish("k", []byte("theirs"))
	}()
	v, tk, err := g.Ask(ctx, "k", 60_000)
	if err != nil || tk != nil || string(v) != "theirs" {
		t.Fatalf("got %q, ticket %v, %v; want %q", v, tk != nil, err, "theirs")
	}
	m.kv["__lock__j"] = []byte("stuck") // a lock that never goes away
	start := time.Now()
	_, tk, err = g.Ask(ctx, "j", 30)
	// Only a clock shows the wait is bounded; 1s is 30x the bound, for a
	// loaded machine.
	if err != nil || tk == nil || tk.Locked() || time.Since(start) > time.Second {
		t.Fatalf("got ticket %v, %v after %v; want an unlocked ticket after about 30ms", tk, err, time.Since(start))
	}
	_, _ = tk.Abandon(ctx, nil)
}

func BenchmarkAskFresh(b *testing.B) {
	m := newMem()
	m.publish("k", []byte("v"))
	g := New(m, Options{})
	for b.Loop() {
		if _, tk, _ := g.Ask(ctx, "k", 1000); tk != nil {
			b.Fatal("ticket on a fresh key")
		}
	}
}
