package gotests

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/client"
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
		{"acquire free", func() (bool, error) { return c.AcquireLock(ctx, "l", "tok", time.Second) }, true},
		{"acquire held", func() (bool, error) { return c.AcquireLock(ctx, "l", "other", time.Second) }, false},
		{"extend with a wrong token", func() (bool, error) { return c.ExtendLock(ctx, "l", "other", time.Minute, true) }, false},
		{"extend", func() (bool, error) { return c.ExtendLock(ctx, "l", "tok", time.Minute, true) }, true},
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

func TestClientPeekPublishAndPatterns(t *testing.T) {
	s := startRedis(t)
	c := newClient(t, client.Options{Addr: s.Addr})
	if _, found, fresh, err := c.Peek(ctx, "k", "__fresh__k"); found || fresh || err != nil {
		t.Fatalf("got found %v fresh %v, %v on an empty db; want false, false, nil", found, fresh, err)
	}
	if err := c.Publish(ctx, "k", "__fresh__k", []byte("v"), 90*time.Second, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	v, found, fresh, err := c.Peek(ctx, "k", "__fresh__k")
	if string(v) != "v" || !found || !fresh || err != nil {
		t.Fatalf("got %q %v %v %v; want v, true, true, nil", v, found, fresh, err)
	}
	if got := s.do(t, "TTL", "k"); got != ":90" {
		t.Fatalf("got value TTL %s; want 90", got)
	}
	keys, vals := make([]string, 2500), make([][]byte, 2500)
	for i := range keys {
		keys[i], vals[i] = "p:"+strconv.Itoa(i), []byte("x")
	}
	if err := c.SetMany(ctx, keys, vals, time.Minute); err != nil {
		t.Fatal(err)
	}
	entries, err := c.Dump(ctx, []string{"p:1", "missing"})
	if err != nil || len(entries) != 1 || entries[0].TTL <= 59*time.Second {
		t.Fatalf("got %+v, %v; want one entry with a TTL near 60s", entries, err)
	}
	n, err := c.DeletePattern(ctx, "p:1*", 100)
	if err != nil || n != 1111 {
		t.Fatalf("got %d, %v; want 1111, nil", n, err)
	}
	if got := s.do(t, "DBSIZE"); got != ":"+strconv.Itoa(2+2500-1111) {
		t.Fatalf("got DBSIZE %s; want %d", got, 2+2500-1111)
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
			v, tk, err := g.Ask(ctx, "cold", time.Minute)
			if err != nil {
				t.Error(err)
				return
			}
			if tk != nil {
				computed.Add(1)
				time.Sleep(100 * time.Millisecond)
				v = []byte("value")
				if err := tk.Publish(ctx, v, time.Minute, 30*time.Second); err != nil {
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
			want = ":1"
		}
		if got := s.do(t, "EXISTS", "__fresh__cold"); got != want {
			t.Errorf("server %d: got EXISTS fresh %s; want %s", i, got, want)
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
	_, tk, _ := g.Ask(ctx, "k", time.Second)
	if err := tk.Publish(ctx, []byte("v"), 0, 0); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, tk, err := g.Ask(ctx, "k", time.Second); err != nil || tk != nil {
			b.Fatal("not a fresh hit", err)
		}
	}
}

func BenchmarkLockAcquireRelease(b *testing.B) {
	c := client.New(client.Options{Addr: startRedis(b).Addr})
	defer c.Close()
	for b.Loop() {
		tok := lock.NewToken()
		if ok, err := c.AcquireLock(ctx, "l", tok, time.Second); !ok || err != nil {
			b.Fatal("acquire", err)
		}
		if ok, err := c.ReleaseLock(ctx, "l", tok); !ok || err != nil {
			b.Fatal("release", err)
		}
	}
}
