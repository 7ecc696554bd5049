package cache

import (
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"testing"

	"github.com/redis-cache-go/redis-cache-go/internal/redistest"
)

// outcome is what GetBatch reported for one key.
type outcome struct {
	v     string
	found bool
	err   error
	calls int
}

// batch runs GetBatch on keys and returns each key's outcome, failing the
// test unless every key was reported exactly once.
func batch(t *testing.T, c *Cache, keys []string) []outcome {
	t.Helper()
	out := make([]outcome, len(keys))
	var mu sync.Mutex
	c.GetBatch(ctx, keys, func(i int, v []byte, found bool, err error) {
		mu.Lock()
		defer mu.Unlock()
		out[i] = outcome{v: string(v), found: found, err: err, calls: out[i].calls + 1}
	})
	for i, o := range out {
		if o.calls != 1 {
			t.Fatalf("key %d (%q): reported %d times; want once", i, keys[i], o.calls)
		}
	}
	return out
}

// mgets is how many MGETs srv has run since its stats were reset.
func mgets(t *testing.T, srv *redistest.Server) int {
	t.Helper()
	m := regexp.MustCompile(`cmdstat_mget:calls=(\d+)`).FindStringSubmatch(srv.Do(t, "INFO", "commandstats"))
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// GetBatch gives every key what Get gives it (found, missing, compressed,
// empty, a duplicate key), except MGET's one difference: a key of another
// type reads as missing.
func TestGetBatchAnswersAsGet(t *testing.T) {
	srv := redistest.Start(t)
	c := open(t, srv, Config{Codec: &Codec{Compressor: "zlib"}})
	set(t, c, "plain", "v1")
	set(t, c, "big", string(make([]byte, 64<<10))) // compressed by Set, decoded by the read
	srv.Do(t, "SET", "empty", "")
	srv.Do(t, "SET", "zlib-by-another", string(zlibOf(t, "from another client")))
	srv.Do(t, "RPUSH", "a-list", "x")
	keys := []string{"plain", "missing", "big", "empty", "zlib-by-another", "plain", "a-list"}
	got := batch(t, c, keys)
	for i, k := range keys {
		want, wantFound := "", false // "a-list": Get fails with WRONGTYPE, MGET reads nil
		if k != "a-list" {
			want, wantFound = get(t, c, k)
		}
		if got[i].err != nil || got[i].found != wantFound || got[i].v != want {
			t.Errorf("key %q: got %q, %v, %v; want %q (%d bytes), %v, nil", k, trim(got[i].v), got[i].found, got[i].err,
				trim(want), len(want), wantFound)
		}
	}
}

func trim(s string) string {
	if len(s) > 20 {
		return s[:20] + "…"
	}
	return s
}

// More than BatchMax keys are read in chunks of BatchMax, one MGET each,
// every key reported once.
func TestGetBatchChunks(t *testing.T) {
	srv := redistest.Start(t)
	c := open(t, srv, Config{})
	const n = 3*BatchMax + 5
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
		if i%2 == 0 {
			set(t, c, keys[i], keys[i]+"-value")
		}
	}
	srv.Do(t, "CONFIG", "RESETSTAT")
	got := batch(t, c, keys)
	for i, k := range keys {
		if want := i%2 == 0; got[i].found != want || got[i].err != nil || (want && got[i].v != k+"-value") {
			t.Fatalf("key %q: got %q, %v, %v; want found %v", k, got[i].v, got[i].found, got[i].err, want)
		}
	}
	if got, want := mgets(t, srv), 4; got != want {
		t.Errorf("MGETs: got %d; want %d (%d keys in chunks of %d)", got, want, n, BatchMax)
	}
}

// In a ring, a server that cannot be reached fails only the keys it owns;
// the others are read from their servers.
func TestGetBatchRingFailsOnlyTheDownServersKeys(t *testing.T) {
	a, b := redistest.Start(t), redistest.Start(t)
	down := redistest.FreeAddr(t) // nothing listens there
	cfg := Config{Servers: []Server{{Endpoint: Endpoint{Addr: a.Addr}}, {Endpoint: Endpoint{Addr: b.Addr}}, {Endpoint: Endpoint{Addr: down}}},
		ConnectTimeout: 1, SocketTimeout: 1, Mode: "ring"}
	c, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer c.Close()
	keys := make([]string, 60)
	for i := range keys {
		keys[i] = fmt.Sprintf("ring-%d", i)
		if c.Locate(keys[i]) != 2 {
			set(t, c, keys[i], "v-"+keys[i])
		}
	}
	got := batch(t, c, keys)
	var onDown int
	for i, k := range keys {
		if c.Locate(k) == 2 {
			onDown++
			if got[i].err == nil || got[i].found {
				t.Errorf("key %q on the unreachable server: got %q, %v, %v; want an error", k, got[i].v, got[i].found, got[i].err)
			}
			continue
		}
		if got[i].err != nil || !got[i].found || got[i].v != "v-"+k {
			t.Errorf("key %q on a live server: got %q, %v, %v; want %q", k, got[i].v, got[i].found, got[i].err, "v-"+k)
		}
	}
	if onDown == 0 || onDown == len(keys) {
		t.Fatalf("%d of %d keys on the unreachable server: the test needs some on each side", onDown, len(keys))
	}
}

// A value that does not open (Protection) is that key's rejection only,
// as with Get: the others in the batch are read.
func TestGetBatchRejectsPerKey(t *testing.T) {
	srv := redistest.Start(t)
	c := open(t, srv, Config{Protection: &Protection{Mode: "sign", Secrets: []string{"s"}, Errors: "raise"}})
	set(t, c, "good", "sealed")
	srv.Do(t, "SET", "forged", "not sealed")
	got := batch(t, c, []string{"good", "forged", "missing"})
	if got[0].err != nil || !got[0].found || got[0].v != "sealed" {
		t.Errorf("good: got %q, %v, %v; want \"sealed\"", got[0].v, got[0].found, got[0].err)
	}
	var b Buffer
	_, wantErr := c.Get(ctx, "forged", &b)
	if got[1].found || got[1].err == nil || wantErr == nil || got[1].err.Error() != wantErr.Error() {
		t.Errorf("forged: got %v, %v; want Get's error %v", got[1].found, got[1].err, wantErr)
	}
	if got[2].err != nil || got[2].found {
		t.Errorf("missing: got %v, %v; want a miss", got[2].found, got[2].err)
	}
}

// With a near-cache, held keys are answered from it (no MGET), the others
// read through it and kept.
func TestGetBatchThroughTheNearCache(t *testing.T) {
	srv := redistest.Start(t)
	c := openNear(t, srv, Config{})
	set(t, c, "app:a", "1")
	set(t, c, "app:b", "2")
	cached(t, c, "app:a")
	cached(t, c, "app:b")
	srv.Do(t, "CONFIG", "RESETSTAT")
	got := batch(t, c, []string{"app:a", "app:b", "app:nope"})
	if got[0].v != "1" || got[1].v != "2" || got[2].found || got[0].err != nil || got[1].err != nil || got[2].err != nil {
		t.Fatalf("got %+v; want 1, 2 and a miss", got)
	}
	stats := srv.Do(t, "INFO", "commandstats")
	if n := mgets(t, srv); n != 0 || regexp.MustCompile(`cmdstat_get:calls=1,`).FindString(stats) == "" {
		t.Errorf("commands: want one GET (the miss, read through the near-cache) and no MGET; got\n%s", stats)
	}
}

func BenchmarkGetBatch100(b *testing.B) {
	srv := redistest.Start(b)
	c := open(b, srv, Config{})
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
		set(b, c, keys[i], "0123456789")
	}
	for b.Loop() {
		c.GetBatch(ctx, keys, func(int, []byte, bool, error) {})
	}
}

// concurrently waits for every function, then raises the first panic on
// the waiting goroutine (where a recover sees it), whichever goroutine
// raised it.
func TestConcurrentlyRaisesOnTheWaiter(t *testing.T) {
	for _, where := range []string{"spawned", "here"} {
		t.Run(where, func(t *testing.T) {
			var run concurrently
			var finished sync.WaitGroup
			finished.Add(3)
			release := make(chan struct{})
			for i := 0; i < 2; i++ {
				run.spawn(func() {
					defer finished.Done()
					<-release
					if where == "spawned" && i == 1 {
						panic("boom")
					}
				})
			}
			got := func() (v any) {
				defer func() { v = recover() }()
				run.here(func() {
					defer finished.Done()
					close(release)
					if where == "here" {
						panic("boom")
					}
				})
				run.wait()
				return nil
			}()
			if got != "boom" {
				t.Fatalf("recovered %v; want boom", got)
			}
			finished.Wait() // every function ended before wait raised (or this hangs)
		})
	}
}
