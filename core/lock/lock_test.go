package lock

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/expiry"
)

// memStore is an in-memory Store for the waiting logic (the Redis side is
// tested against real servers in tests/go).
type memStore struct {
	mu    sync.Mutex
	owner map[string]string
	tries int // AcquireLock calls
}

func (m *memStore) AcquireLock(_ context.Context, key, token string, _ expiry.TTL) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tries++
	if _, held := m.owner[key]; held {
		return false, nil
	}
	m.owner[key] = token
	return true, nil
}

func (m *memStore) ReleaseLock(_ context.Context, key, token string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.owner[key] != token {
		return false, nil
	}
	delete(m.owner, key)
	return true, nil
}

func (m *memStore) ExtendLock(context.Context, string, string, expiry.TTL, bool) (bool, error) {
	return true, nil
}

func TestAcquire(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		held bool
		opts Options
		want bool
	}{
		{"free", false, Options{}, true},
		{"held, not blocking", true, Options{}, false},
		{"held, blocking with a bound", true, Options{Blocking: true, Wait: 30 * time.Millisecond, Sleep: 5 * time.Millisecond}, false},
	} {
		m := &memStore{owner: map[string]string{}}
		if tc.held {
			m.owner["k"] = "other"
		}
		got, err := Acquire(ctx, m, "k", NewToken(), tc.opts)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %v, %v; want %v, nil", tc.name, got, err, tc.want)
		}
	}
}

func TestAcquireWaitsForRelease(t *testing.T) {
	m := &memStore{owner: map[string]string{"k": "other"}}
	go func() {
		// Released once Acquire has found the lock held (polled, not a
		// guess at how long that takes).
		for {
			m.mu.Lock()
			tried := m.tries
			m.mu.Unlock()
			if tried > 0 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		m.ReleaseLock(context.Background(), "k", "other")
	}()
	got, err := Acquire(context.Background(), m, "k", "mine", Options{Blocking: true, Sleep: 2 * time.Millisecond})
	if !got || err != nil || m.owner["k"] != "mine" || m.tries < 2 {
		t.Fatalf("got %v, %v, owner %q after %d tries; want true, nil, mine after at least 2", got, err, m.owner["k"], m.tries)
	}
}

func TestNewToken(t *testing.T) {
	a, b := NewToken(), NewToken()
	if len(a) != 32 || a == b {
		t.Fatalf("got %q and %q; want two different 32-char tokens", a, b)
	}
}

func BenchmarkNewToken(b *testing.B) {
	for b.Loop() {
		NewToken()
	}
}
