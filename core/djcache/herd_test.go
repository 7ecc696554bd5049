package djcache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/expiry"
	"github.com/redis-cache-go/redis-cache-go/core/herd"
)

func TestGetOrSetStoresTheSeedsLayout(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, Options{KeyPrefix: "herd-layout"})
	made := c.MakeKey("k")
	_, _ = c.Shards().DeleteMany(ctx, []string{made, "__fresh__" + made, "__lock__" + made, "__herd__" + made})

	v, err := c.GetOrSet(ctx, "k", 30*time.Second, func(context.Context) (any, error) { return "computed", nil })
	if err != nil || v != "computed" {
		t.Fatalf("GetOrSet: got %#v, %v; want \"computed\"", v, err)
	}
	checks := []struct {
		key      string
		min, max expiry.TTL
	}{
		{made, 89_000, 90_000},               // ttl + the 60 s stale window
		{"__fresh__" + made, 29_000, 30_000}, // the fresh flag: ttl
		{"__herd__" + made, 89_000, 90_000},  // the tag: the value's
	}
	for _, ck := range checks {
		ttl, found, err := c.Shards().TTL(ctx, ck.key)
		if err != nil || !found || ttl < ck.min || ttl > ck.max {
			t.Errorf("TTL(%q): got %v found=%v err=%v; want between %v and %v", ck.key, ttl, found, err, ck.min, ck.max)
		}
	}
	if raw, _, _ := c.Shards().Get(ctx, "__fresh__"+made); string(raw) != "2" {
		t.Errorf("fresh flag: got %q; want \"2\" (the seed writes \"1\")", raw)
	}
	stored, _, _ := c.Shards().Get(ctx, made)
	if tag, _, _ := c.Shards().Get(ctx, "__herd__"+made); string(tag) != string(herd.Tag(stored)) {
		t.Errorf("tag: got %q; want %q, the digest of the stored value", tag, herd.Tag(stored))
	}
	if held, _ := c.Shards().Exists(ctx, "__lock__"+made); held {
		t.Errorf("the lock is still held after GetOrSet")
	}
	again, err := c.GetOrSet(ctx, "k", 30*time.Second, func(context.Context) (any, error) {
		t.Error("compute ran while the value was fresh")
		return nil, nil
	})
	if err != nil || again != "computed" {
		t.Errorf("second GetOrSet: got %#v, %v; want \"computed\"", again, err)
	}
}

func TestGetOrSetComputesOnceForConcurrentCallers(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, Options{KeyPrefix: "herd-once"})
	made := c.MakeKey("k")
	_, _ = c.Shards().DeleteMany(ctx, []string{made, "__fresh__" + made, "__lock__" + made, "__herd__" + made})

	var calls atomic.Int32
	var wg sync.WaitGroup
	results := make([]any, 16)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := c.GetOrSet(ctx, "k", time.Minute, func(context.Context) (any, error) {
				calls.Add(1)
				time.Sleep(100 * time.Millisecond) // a slow computation, not synchronisation
				return int64(7), nil
			})
			if err != nil {
				t.Errorf("GetOrSet: %v", err)
			}
			results[i] = v
		}()
	}
	wg.Wait()
	if got := calls.Load(); got != 1 {
		t.Errorf("compute ran %d times; want 1", got)
	}
	for i, v := range results {
		if v != int64(7) {
			t.Errorf("caller %d: got %#v; want 7", i, v)
		}
	}
}

func TestGetOrSetErrorStoresNothingAndReleasesTheLock(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, Options{KeyPrefix: "herd-error"})
	made := c.MakeKey("k")
	_, _ = c.Shards().DeleteMany(ctx, []string{made, "__fresh__" + made, "__lock__" + made, "__herd__" + made})
	boom := errors.New("boom")
	if _, err := c.GetOrSet(ctx, "k", 0, func(context.Context) (any, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("got %v; want the callback's error", err)
	}
	for _, k := range []string{made, "__fresh__" + made, "__lock__" + made} {
		if ok, _ := c.Shards().Exists(ctx, k); ok {
			t.Errorf("%s exists after a failed computation", k)
		}
	}
	v, err := c.GetOrSet(ctx, "k", 0, func(context.Context) (any, error) { return "ok", nil })
	if err != nil || v != "ok" {
		t.Errorf("after a failure: got %#v, %v; want \"ok\"", v, err)
	}
}

func TestLock(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, Options{})
	_, _ = c.Shards().Delete(ctx, "djcache-lock")
	a, b := c.Lock("djcache-lock", 10*time.Second), c.Lock("djcache-lock", 10*time.Second)

	steps := []struct {
		name string
		do   func() (bool, error)
		want bool
	}{
		{"a acquires", func() (bool, error) { return a.Acquire(ctx, false, 0) }, true},
		{"b cannot", func() (bool, error) { return b.Acquire(ctx, false, 0) }, false},
		{"b blocks briefly, then gives up", func() (bool, error) { return b.Acquire(ctx, true, 150*time.Millisecond) }, false},
		{"b cannot release a's lock", func() (bool, error) { return b.Release(ctx) }, false},
		{"a extends", func() (bool, error) { return a.Extend(ctx, 5*time.Second, false) }, true},
		{"a releases", func() (bool, error) { return a.Release(ctx) }, true},
		{"b acquires", func() (bool, error) { return b.Acquire(ctx, false, 0) }, true},
		{"a's release is refused", func() (bool, error) { return a.Release(ctx) }, false},
		{"b releases", func() (bool, error) { return b.Release(ctx) }, true},
	}
	for _, s := range steps {
		got, err := s.do()
		if err != nil || got != s.want {
			t.Fatalf("%s: got %v, %v; want %v", s.name, got, err, s.want)
		}
	}
	ttl, _, _ := c.Shards().TTL(ctx, "djcache-lock")
	if ttl > 0 {
		t.Errorf("lock key still has a ttl after release: %v", ttl)
	}
}
