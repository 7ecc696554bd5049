package cache

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/codec"
	"github.com/redis-cache-go/redis-cache-go/core/lock"
	"github.com/redis-cache-go/redis-cache-go/internal/redistest"
)

var ctx = context.Background()

// open opens a cache on srv with cfg's other settings; it is closed when
// the test ends.
func open(t testing.TB, srv *redistest.Server, cfg Config) *Cache {
	t.Helper()
	cfg.Addr = srv.Addr
	c, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: got error %v; want nil", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// get reads key through c: its value and whether it exists.
func get(t testing.TB, c *Cache, key string) (string, bool) {
	t.Helper()
	var b Buffer
	ok, err := c.Get(ctx, key, &b)
	if err != nil {
		t.Fatalf("Get(%q): got error %v; want nil", key, err)
	}
	return string(b.B), ok
}

func set(t testing.TB, c *Cache, key, value string) {
	t.Helper()
	if ok, err := c.Set(ctx, key, []byte(value), 0, false); !ok || err != nil {
		t.Fatalf("Set(%q): got %v, %v; want true, nil", key, ok, err)
	}
}

// waitFor polls cond until it holds, failing the test after 30 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// zlibOf is what another client with the zlib compressor stores for v.
func zlibOf(t testing.TB, v string) []byte {
	t.Helper()
	z, err := codec.New(codec.Options{Format: codec.Zlib})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := z.Encode([]byte(v))
	if err != nil {
		t.Fatal(err)
	}
	return stored
}

// The codec policy: what is stored in Redis for a value, and what reads
// hand back, whoever wrote it.
func TestCodecPolicyOnTheServer(t *testing.T) {
	srv := redistest.Start(t)
	big := strings.Repeat("compressible ", 200)
	zlibbed := zlibOf(t, big)
	off := false
	tests := []struct {
		name      string
		codec     Codec
		value     string // written by the cache, unless raw is set
		raw       string // written by another client, as is
		wantMagic string // how the stored bytes start
		wantRead  string
	}{
		{name: "no compressor", codec: Codec{}, value: big, wantMagic: "comp", wantRead: big},
		{name: "zstd", codec: Codec{Compressor: "zstd"}, value: big, wantMagic: "\x28\xb5\x2f\xfd", wantRead: big},
		{name: "lz4", codec: Codec{Compressor: "lz4"}, value: big, wantMagic: "\x04\x22\x4d\x18", wantRead: big},
		{name: "below min_len", codec: Codec{Compressor: "zlib", MinLen: 10000}, value: big, wantMagic: "comp", wantRead: big},
		{name: "an int is never compressed", codec: Codec{Compressor: "zlib"}, value: "12345", wantMagic: "1", wantRead: "12345"},
		{name: "another compressor's value", codec: Codec{Compressor: "zstd"}, raw: string(zlibbed), wantMagic: "\x78", wantRead: big},
		{name: "decode off", codec: Codec{Decode: &off}, raw: string(zlibbed), wantMagic: "\x78", wantRead: string(zlibbed)},
		{name: "not a stream", codec: Codec{Compressor: "zlib"}, raw: "\x78 not zlib", wantMagic: "\x78", wantRead: "\x78 not zlib"},
	}
	for i, tt := range tests {
		c := open(t, srv, Config{Codec: &tt.codec})
		key := "codec:" + string(rune('a'+i))
		if tt.raw != "" {
			srv.Do(t, "SET", key, tt.raw)
		} else {
			set(t, c, key, tt.value)
		}
		if stored := srv.Do(t, "GET", key); !strings.HasPrefix(stored, tt.wantMagic) {
			t.Errorf("%s: got stored bytes starting %q; want %q", tt.name, stored[:min(4, len(stored))], tt.wantMagic)
		}
		if got, ok := get(t, c, key); !ok || got != tt.wantRead {
			t.Errorf("%s: got %d bytes (found %v); want %d bytes", tt.name, len(got), ok, len(tt.wantRead))
		}
		var got []string
		err := c.GetMany(ctx, []string{key, "codec:missing"}, func(i int, v []byte) { got = append(got, string(v)) })
		if err != nil || len(got) != 1 || got[0] != tt.wantRead {
			t.Errorf("%s: GetMany: got %d values, %v; want the one value", tt.name, len(got), err)
		}
	}
}

func TestReinsertAndWalk(t *testing.T) {
	srv := redistest.Start(t)
	big := strings.Repeat("compressible ", 200)
	c := open(t, srv, Config{Codec: &Codec{Compressor: "zstd"}})
	zlibbed := zlibOf(t, big)
	srv.Do(t, "SET", "w:old", string(zlibbed))
	srv.Do(t, "PEXPIRE", "w:old", "100000")
	set(t, c, "w:new", big)        // already zstd: left alone
	srv.Do(t, "SET", "w:int", "7") // an int stays text
	srv.Do(t, "SET", "other", "x")

	st, ok, err := c.WalkStep(ctx, WalkCount, 0, 0, "w:*", 0)
	if !ok || err != nil || st.Found != 3 || st.Done != 3 || st.Next != 0 {
		t.Errorf("WalkStep count: got %+v, %v, %v; want 3 found and counted, cursor 0", st, ok, err)
	}
	if _, ok, _ := c.WalkStep(ctx, WalkCount, 1, 0, "w:*", 0); ok {
		t.Errorf("WalkStep on target 1 of 1: got ok; want false")
	}
	n, err := c.Reinsert(ctx, "w:*", 0)
	if err != nil || n != 1 {
		t.Fatalf("Reinsert: got %d, %v; want 1 value rewritten", n, err)
	}
	if stored := srv.Do(t, "GET", "w:old"); !strings.HasPrefix(stored, "\x28\xb5\x2f\xfd") {
		t.Errorf("w:old after Reinsert: got %q…; want zstd", stored[:4])
	}
	if ttl := srv.Do(t, "PTTL", "w:old"); ttl == ":-1" {
		t.Errorf("w:old after Reinsert: got no TTL; want its TTL kept")
	}
	if got, _ := get(t, c, "w:old"); got != big {
		t.Errorf("w:old after Reinsert: got %d bytes; want the %d plain bytes", len(got), len(big))
	}
	if n, err := c.DeletePattern(ctx, "w:*", 0); n != 3 || err != nil {
		t.Errorf("DeletePattern: got %d, %v; want 3, nil", n, err)
	}
	keys, next, ok, err := c.Scan(ctx, 0, 0, "*", 0)
	if !ok || err != nil || next != 0 || len(keys) != 1 || keys[0] != "other" {
		t.Errorf("Scan: got %q next %d, %v, %v; want [other] 0", keys, next, ok, err)
	}
}

func TestLocks(t *testing.T) {
	srv := redistest.Start(t)
	c := open(t, srv, Config{})
	token, ok, err := c.AcquireLock(ctx, "lk", lock.Options{TTL: 10000})
	if !ok || err != nil || token == "" {
		t.Fatalf("AcquireLock: got %q, %v, %v; want a token", token, ok, err)
	}
	if _, ok, _ := c.AcquireLock(ctx, "lk", lock.Options{TTL: 10000}); ok {
		t.Errorf("second AcquireLock: got the lock; want it refused")
	}
	for _, tt := range []struct {
		name string
		f    func() (bool, error)
		want bool
	}{
		{"held", func() (bool, error) { return c.LockHeld(ctx, "lk") }, true},
		{"extend with another token", func() (bool, error) { return c.ExtendLock(ctx, "lk", "x", 1000, false) }, false},
		{"extend", func() (bool, error) { return c.ExtendLock(ctx, "lk", token, 1000, true) }, true},
		{"release with another token", func() (bool, error) { return c.ReleaseLock(ctx, "lk", "x") }, false},
		{"release", func() (bool, error) { return c.ReleaseLock(ctx, "lk", token) }, true},
		{"held after release", func() (bool, error) { return c.LockHeld(ctx, "lk") }, false},
	} {
		if got, err := tt.f(); got != tt.want || err != nil {
			t.Errorf("%s: got %v, %v; want %v, nil", tt.name, got, err, tt.want)
		}
	}
}

// Caches opened with equal Configs count into the same counters, which
// outlive them.
func TestStatsAreSharedByConfig(t *testing.T) {
	srv := redistest.Start(t)
	cfg := Config{SocketTimeout: 2}
	c1, c2 := open(t, srv, cfg), open(t, srv, cfg)
	other := open(t, srv, Config{SocketTimeout: 3})
	get(t, c1, "s:k") // a miss
	set(t, c2, "s:k", "v")
	get(t, c2, "s:k") // a hit
	get(t, other, "s:k")
	c2.Close()
	tests := []struct {
		name               string
		c                  *Cache
		wantHits, wantMiss uint64
	}{
		{"first cache", c1, 1, 1},
		{"another configuration", other, 1, 0},
	}
	for _, tt := range tests {
		st := tt.c.Stats()
		if len(st) != 1 || st[0].Hits != tt.wantHits || st[0].Misses != tt.wantMiss || st[0].Pool == nil {
			t.Errorf("%s: got %+v; want %d hits, %d misses and pool figures", tt.name, st, tt.wantHits, tt.wantMiss)
		}
	}
}

func TestOperations(t *testing.T) {
	srv := redistest.Start(t)
	c := open(t, srv, Config{Codec: &Codec{Compressor: "zlib"}})
	set(t, c, "o:a", "1")
	tests := []struct {
		name string
		f    func() (any, error)
		want any
	}{
		{"add an existing key", func() (any, error) { return c.Set(ctx, "o:a", []byte("x"), 0, true) }, false},
		{"add a new key", func() (any, error) { return c.Set(ctx, "o:b", []byte("2"), 0, true) }, true},
		{"exists", func() (any, error) { return c.Exists(ctx, "o:a") }, true},
		{"incr", func() (any, error) { v, _, err := c.Incr(ctx, "o:a", 41); return v, err }, int64(42)},
		{"incr a missing key", func() (any, error) { _, ok, err := c.Incr(ctx, "o:none", 1); return ok, err }, false},
		{"expire", func() (any, error) { return c.Expire(ctx, "o:a", 100000) }, true},
		{"ttl", func() (any, error) { d, _, err := c.TTL(ctx, "o:a"); return d > 90000, err }, true},
		{"persist", func() (any, error) { return c.Persist(ctx, "o:a") }, true},
		{"ttl without expiry", func() (any, error) { d, _, err := c.TTL(ctx, "o:a"); return int64(d), err }, int64(-1)},
		{"rename", func() (any, error) { return c.Rename(ctx, "o:a", "o:c") }, true},
		{"rename a missing key", func() (any, error) { return c.Rename(ctx, "o:a", "o:d") }, false},
		{"set many", func() (any, error) {
			return nil, c.SetMany(ctx, []string{"o:m1", "o:m2"}, [][]byte{[]byte("x"), bytes.Repeat([]byte("y"), 500)}, 0)
		}, nil},
		{"delete many", func() (any, error) { return c.DeleteMany(ctx, []string{"o:m1", "o:m2", "o:none"}) }, int64(2)},
		{"delete", func() (any, error) { return c.Delete(ctx, "o:b") }, true},
		{"delete a missing key", func() (any, error) { return c.Delete(ctx, "o:b") }, false},
		{"raw command", func() (any, error) { r, _, err := c.Do(ctx, "o:c", "GET", "o:c"); return r[0].Value, err }, "42"},
		{"server command", func() (any, error) { v, _, err := c.ServerDo(ctx, 0, "DBSIZE"); return v, err }, int64(1)},
		{"server command past the last server", func() (any, error) { _, ok, err := c.ServerDo(ctx, 1, "PING"); return ok, err }, false},
		{"clear", func() (any, error) { return c.Clear(ctx, "o:*") }, int64(1)},
		{"ping", func() (any, error) { return nil, c.Ping(ctx) }, nil},
	}
	for _, tt := range tests {
		got, err := tt.f()
		if err != nil || got != tt.want {
			t.Errorf("%s: got %v, %v; want %v, nil", tt.name, got, err, tt.want)
		}
	}
}
