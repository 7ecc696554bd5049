package gotests

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/nearcache"
)

func newNear(t *testing.T, srv *redisServer, o nearcache.Options) *nearcache.Cache {
	t.Helper()
	o.Addr = srv.Addr
	if o.PingInterval == 0 {
		o.PingInterval = 100 * time.Millisecond
	}
	c := nearcache.New(o)
	t.Cleanup(c.Close)
	waitFor(t, "tracking confirmed", func() bool { c.Get("warm-up"); return c.Stats().Tracking })
	return c
}

// fetch is what the capi layer does on a miss: Begin, GET+PTTL, Fill.
func fetch(t *testing.T, c *nearcache.Cache, cl *client.Client, key string) (string, bool) {
	t.Helper()
	if v, ok := c.Get(key); ok {
		return string(v), true
	}
	tk := c.Begin(key)
	v, ttl, ok, err := cl.GetTTL(context.Background(), key)
	if err != nil {
		t.Fatalf("GetTTL: %v", err)
	}
	if ok {
		c.Fill(tk, key, v, ttl)
	}
	return string(v), ok
}

// cached fetches key until it is in the near-cache (a fill is dropped when
// the push of the write that made the value arrives while it is in flight).
func cached(t *testing.T, c *nearcache.Cache, cl *client.Client, key string) {
	t.Helper()
	waitFor(t, key+" cached", func() bool {
		fetch(t, c, cl, key)
		_, ok := c.Get(key)
		return ok
	})
}

func TestNearCacheInvalidatedByAnotherClient(t *testing.T) {
	srv := startRedis(t)
	c := newNear(t, srv, nearcache.Options{Prefix: "app:"})
	cl := newClient(t, client.Options{Addr: srv.Addr})
	for i := 0; i < 200; i++ {
		want := fmt.Sprint(i)
		if got := srv.do(t, "SET", "app:k", want); got != "+OK" {
			t.Fatalf("SET: %s", got)
		}
		seen := false
		deadline := time.Now().Add(30 * time.Second) // bounds a failure only
		for n := 0; n < 50 || !seen; n++ {
			got, _ := fetch(t, c, cl, "app:k")
			if got == want {
				seen = true
			} else if seen {
				t.Fatalf("round %d: got %q after %q was observed", i, got, want)
			} else if got != fmt.Sprint(i-1) {
				t.Fatalf("round %d: got %q; want %q or the previous value", i, got, want)
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %q never observed (last %q)", i, want, got)
			}
		}
	}
	st := c.Stats()
	if st.Hits == 0 || st.Invalidations == 0 {
		t.Fatalf("hits=%d invalidations=%d; want both > 0 (the near-cache was not exercised)", st.Hits, st.Invalidations)
	}
}

func TestNearCacheDropsFillRacedByAWrite(t *testing.T) {
	srv := startRedis(t)
	c := newNear(t, srv, nearcache.Options{})
	cl := newClient(t, client.Options{Addr: srv.Addr})
	srv.do(t, "SET", "k", "old")
	tk := c.Begin("k")
	v, ttl, _, err := cl.GetTTL(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	before := c.Stats().Invalidations
	srv.do(t, "SET", "k", "new") // the write lands after our GET, before our fill
	waitFor(t, "the invalidation push", func() bool { return c.Stats().Invalidations > before })
	if c.Fill(tk, "k", v, ttl) {
		t.Fatalf("fill of %q stored after the key was invalidated", v)
	}
	if got, _ := fetch(t, c, cl, "k"); got != "new" {
		t.Fatalf("got %q; want %q", got, "new")
	}
}

func TestNearCacheFlushAllAndRedisExpiry(t *testing.T) {
	srv := startRedis(t)
	c := newNear(t, srv, nearcache.Options{TTL: time.Minute})
	cl := newClient(t, client.Options{Addr: srv.Addr})
	srv.do(t, "SET", "a", "1")
	cached(t, c, cl, "a")
	srv.do(t, "FLUSHALL")
	waitFor(t, "FLUSHALL flushes the near-cache", func() bool { return c.Stats().Entries == 0 })

	// b must be cached before Redis expires it: a round that a pause (a
	// loaded machine) stretched past the 300ms is run again.
	var setDone time.Time
	waitFor(t, "b cached before it expired", func() bool {
		srv.do(t, "SET", "b", "1", "PX", "300")
		setDone = time.Now()
		return cachedBeforeExpiry(t, c, cl, "b")
	})
	for {
		readStart := time.Now()
		if _, ok := fetch(t, c, cl, "b"); !ok {
			break
		}
		// Redis itself counts whole milliseconds: it serves a key up to
		// 1ms past its PX.
		if readStart.Sub(setDone) > 301*time.Millisecond {
			t.Fatalf("b served %v after its SET returned; Redis expired it at 300ms", readStart.Sub(setDone))
		}
	}
	if c.Stats().Hits == 0 {
		t.Fatal("b was never served from the near-cache")
	}
}

// cachedBeforeExpiry fetches key until the near-cache holds it (true) or
// Redis has expired it (false).
func cachedBeforeExpiry(t *testing.T, c *nearcache.Cache, cl *client.Client, key string) bool {
	t.Helper()
	for {
		if _, ok := fetch(t, c, cl, key); !ok {
			return false
		}
		if _, ok := c.Get(key); ok {
			return true
		}
	}
}

func TestNearCacheTrackingLossFlushesAndRecovers(t *testing.T) {
	srv := startRedis(t)
	c := newNear(t, srv, nearcache.Options{})
	cl := newClient(t, client.Options{Addr: srv.Addr})
	srv.do(t, "SET", "k", "v1")
	fetch(t, c, cl, "k")
	id := c.Stats().TrackingID
	if id == 0 {
		t.Fatal("no tracking id")
	}
	srv.do(t, "CLIENT", "KILL", "ID", fmt.Sprint(id))
	srv.do(t, "SET", "k", "v2") // its push is lost with the connection
	waitFor(t, "v2 observed", func() bool { got, _ := fetch(t, c, cl, "k"); return got == "v2" })
	for i := 0; i < 100; i++ {
		if got, _ := fetch(t, c, cl, "k"); got != "v2" {
			t.Fatalf("got %q after v2 was observed", got)
		}
	}
	waitFor(t, "tracking re-established", func() bool {
		st := c.Stats()
		return st.Tracking && st.TrackingID != id && st.Connects >= 2
	})
	cached(t, c, cl, "k")
	srv.do(t, "SET", "k", "v3")
	waitFor(t, "v3 observed", func() bool { got, _ := fetch(t, c, cl, "k"); return got == "v3" })
}

func TestNearCacheServesNothingWithoutTracking(t *testing.T) {
	c := nearcache.New(nearcache.Options{Addr: refusedAddr(t), PingInterval: 50 * time.Millisecond})
	defer c.Close()
	for i := 0; i < 20; i++ {
		if tk := c.Begin("k"); tk.OK() || c.Fill(tk, "k", []byte("v"), -1) {
			t.Fatal("a fill was accepted without a tracking connection")
		}
	}
	waitFor(t, "the dial error recorded", func() bool { return c.Stats().LastError != "" })
}

func BenchmarkNearCacheGetHit(b *testing.B) {
	srv := startRedis(b)
	c := nearcache.New(nearcache.Options{Addr: srv.Addr})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for !c.Stats().Tracking && time.Now().Before(deadline) {
		c.Get("k")
		time.Sleep(time.Millisecond)
	}
	c.Fill(c.Begin("k"), "k", make([]byte, 100), -1)
	b.ResetTimer()
	for b.Loop() {
		if _, ok := c.Get("k"); !ok {
			b.Fatal("miss")
		}
	}
}

func TestNearCacheCloseInterruptsTheHandshake(t *testing.T) {
	// A silent server: the TCP handshake completes, HELLO is never answered;
	// Close must not wait out the one-minute dial timeout.
	c := nearcache.New(nearcache.Options{Addr: silentServer(t), DialTimeout: time.Minute})
	c.Get("k") // starts the tracking connection
	start := time.Now()
	c.Close()
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Close took %v with a one-minute dial timeout", d)
	}
}
