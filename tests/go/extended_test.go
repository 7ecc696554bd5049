package gotests

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/expiry"
	"github.com/redis-cache-go/redis-cache-go/core/herd"
	"github.com/redis-cache-go/redis-cache-go/core/lock"
	"github.com/redis-cache-go/redis-cache-go/core/shard"
)

func TestClientLocks(t *testing.T) {
	s := startRedis(t)
	c := newClient(t, client.Options{Addr: s.Addr})
	for _, tc := range []struct {
		name string
		op   func() (bool, error)
		want bool
	}{
		{"acquire free", func() (bool, error) { return c.AcquireLock(ctx, "l", "tok", expiry.Of(time.Second)) }, true},
		{"acquire held", func() (bool, error) { return c.AcquireLock(ctx, "l", "other", expiry.Of(time.Second)) }, false},
		{"extend with a wrong token", func() (bool, error) { return c.ExtendLock(ctx, "l", "other", expiry.Of(time.Minute), true) }, false},
		{"extend", func() (bool, error) { return c.ExtendLock(ctx, "l", "tok", expiry.Of(time.Minute), true) }, true},
		{"release with a wrong token", func() (bool, error) { return c.ReleaseLock(ctx, "l", "other") }, false},
		{"release", func() (bool, error) { return c.ReleaseLock(ctx, "l", "tok") }, true},
		{"release again", func() (bool, error) { return c.ReleaseLock(ctx, "l", "tok") }, false},
	} {
		got, err := tc.op()
		if err != nil || got != tc.want {
			t.Errorf("%s: got %v, %v; want %v, nil", tc.name, got, err, tc.want)
		}
	}
}

func TestClientSetAllGetManyTTLSwapAndPatterns(t *testing.T) {
	s := startRedis(t)
	c := newClient(t, client.Options{Addr: s.Addr})
	vals, ttls, err := c.GetManyTTL(ctx, []string{"k", "__fresh__k"})
	if err != nil || vals[0] != nil || vals[1] != nil || ttls[0] != 0 {
		t.Fatalf("got %q %v, %v on an empty db; want nothing", vals, ttls, err)
	}
	err = c.SetAll(ctx, []client.Entry{
		{Key: "k", Value: []byte("v"), TTL: expiry.Of(90 * time.Second)},
		{Key: "__fresh__k", Value: []byte("2"), TTL: expiry.Of(30 * time.Second)},
		{Key: "e", Value: []byte{}, TTL: 0},
	})
	if err != nil {
		t.Fatal(err)
	}
	vals, ttls, err = c.GetManyTTL(ctx, []string{"k", "__fresh__k", "e"})
	if err != nil || string(vals[0]) != "v" || string(vals[1]) != "2" || vals[2] == nil || len(vals[2]) != 0 {
		t.Fatalf("got %q, %v; want v, 2 and an empty (not missing) value", vals, err)
	}
	if ttls[0] <= 89*time.Second || ttls[0] > 90*time.Second || ttls[2] != client.NoExpiry {
		t.Fatalf("got TTLs %v; want about 90s for k and NoExpiry for e", ttls)
	}
	n, err := c.SwapIfEqual(ctx, []client.Swap{{Key: "k", Old: []byte("v"), New: []byte("w")}, {Key: "e", Old: []byte("x"), New: []byte("y")}})
	if err != nil || n != 1 || s.do(t, "GET", "k") != "w" || s.do(t, "TTL", "k") != ":90" || s.do(t, "GET", "e") != "" {
		t.Fatalf("got %d, %v, k=%s (TTL %s), e=%q; want 1 swap, k=w keeping its TTL, e unchanged", n, err, s.do(t, "GET", "k"), s.do(t, "TTL", "k"), s.do(t, "GET", "e"))
	}
	keys, vals := make([]string, 2500), make([][]byte, 2500)
	for i := range keys {
		keys[i], vals[i] = "p:"+strconv.Itoa(i), []byte("x")
	}
	if err := c.SetMany(ctx, keys, vals, expiry.Of(time.Minute)); err != nil {
		t.Fatal(err)
	}
	entries, err := c.Dump(ctx, []string{"p:1", "missing"})
	if err != nil || len(entries) != 1 || entries[0].TTL <= 59_000 {
		t.Fatalf("got %+v, %v; want one entry with a TTL near 60s", entries, err)
	}
	n, err = c.DeletePattern(ctx, "p:1*", 100)
	if err != nil || n != 1111 {
		t.Fatalf("got %d, %v; want 1111, nil", n, err)
	}
	if got := s.do(t, "DBSIZE"); got != ":"+strconv.Itoa(3+2500-1111) {
		t.Fatalf("got DBSIZE %s; want %d", got, 3+2500-1111)
	}
}

func TestHerdOverRealShardsComputesOnce(t *testing.T) {
	servers := []*redisServer{startRedis(t), startRedis(t), startRedis(t)}
	c := newShard(t, shard.Options{Servers: serverOpts(servers...)})
	g := herd.New(c, herd.Options{})
	var computed atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A lock TTL far beyond the computation: a pause on a loaded
			// machine must not let a follower take over.
			v, tk, err := g.Ask(ctx, "cold", 60_000)
			if err != nil {
				t.Error(err)
				return
			}
			if tk != nil {
				computed.Add(1)
				time.Sleep(100 * time.Millisecond)
				v = []byte("value")
				if err := tk.Publish(ctx, v, expiry.Of(time.Minute), expiry.Of(30*time.Second)); err != nil {
					t.Error(err)
				}
			}
			if string(v) != "value" {
				t.Errorf("got %q; want value", v)
			}
		}()
	}
	wg.Wait()
	if computed.Load() != 1 {
		t.Fatalf("got %d computations; want 1", computed.Load())
	}
	owner := c.Locate("cold")
	for i, s := range servers {
		want := ":0"
		if i == owner {
			want = ":2" // the fresh flag and the tag, next to the value
		}
		if got := s.do(t, "EXISTS", "__fresh__cold", "__herd__cold"); got != want {
			t.Errorf("server %d: got EXISTS fresh, tag %s; want %s", i, got, want)
		}
	}
}

func BenchmarkHerdAskFresh(b *testing.B) {
	c, err := shard.New(shard.Options{Servers: []client.Options{{Addr: startRedis(b).Addr}}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	g := herd.New(c, herd.Options{})
	_, tk, _ := g.Ask(ctx, "k", expiry.Of(time.Second))
	if err := tk.Publish(ctx, []byte("v"), 0, 0); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, tk, err := g.Ask(ctx, "k", expiry.Of(time.Second)); err != nil || tk != nil {
			b.Fatal("not a fresh hit", err)
		}
	}
}

func BenchmarkLockAcquireRelease(b *testing.B) {
	c := client.New(client.Options{Addr: startRedis(b).Addr})
	defer c.Close()
	for b.Loop() {
		tok := lock.NewToken()
		if ok, err := c.AcquireLock(ctx, "l", tok, expiry.Of(time.Second)); !ok || err != nil {
			b.Fatal("acquire", err)
		}
		if ok, err := c.ReleaseLock(ctx, "l", tok); !ok || err != nil {
			b.Fatal("release", err)
		}
	}
}
