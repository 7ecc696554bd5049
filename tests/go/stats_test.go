package gotests

import (
	"context"
	"testing"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/stats"
)

// TestClientStatsCountsLookupsAndErrors checks the counters core/client
// keeps through its go-redis hook against a real server: hits, misses,
// calls per operation, errors by kind (refused, timeout, error reply) and
// the pool figures.
func TestClientStatsCountsLookupsAndErrors(t *testing.T) {
	ctx := context.Background()
	s := startRedis(t)
	c := client.New(client.Options{Addr: s.Addr})
	defer c.Close()
	if _, err := c.Set(ctx, "k", []byte("v"), 0, false); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"k", "k", "nope"} {
		if _, _, err := c.Get(ctx, key); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.GetMany(ctx, []string{"k", "x", "y", "k"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Incr(ctx, "k", 1); err == nil || client.KindOf(err) != client.KindServer {
		t.Fatalf("incr of a string: got %v; want a server error", err)
	}
	snap := c.Stats()
	if snap.Hits != 4 || snap.Misses != 3 {
		t.Errorf("hits/misses %d/%d; want 4/3", snap.Hits, snap.Misses)
	}
	if snap.Calls["get"] != 3 || snap.Calls["get_many"] != 1 || snap.Calls["set"] != 1 || snap.Calls["script"] < 1 {
		t.Errorf("calls %v; want get 3, get_many 1, set 1, script >= 1", snap.Calls)
	}
	if snap.ErrorsByKind["server"] < 1 || snap.Errors != snap.ErrorsByKind["server"] {
		t.Errorf("errors %d by kind %v; want only server errors", snap.Errors, snap.ErrorsByKind)
	}
	if snap.Latency.Count != snap.Commands || snap.Latency.P50 <= 0 || snap.Latency.P99 > snap.Latency.Max {
		t.Errorf("latency %+v for %d commands", snap.Latency, snap.Commands)
	}
	if snap.Pool == nil || snap.Pool.TotalConns < 1 || snap.Pool.Misses < 1 {
		t.Errorf("pool %+v; want at least one connection dialled", snap.Pool)
	}

	// A stopped server: every call is a connection error (the breaker's
	// fast failures included).
	s.stop()
	for i := 0; i < 8; i++ {
		if _, _, err := c.Get(ctx, "k"); err == nil {
			t.Fatal("get from a stopped server succeeded")
		}
	}
	after := c.Stats()
	if got := after.ErrorsByKind["connection"]; got != 8 {
		t.Errorf("connection errors after 8 failed gets: %d; want 8", got)
	}
	if after.Hits != snap.Hits || after.Misses != snap.Misses {
		t.Errorf("failed gets changed hits/misses: %d/%d", after.Hits, after.Misses)
	}

	// A server that never answers: a timeout.
	slow := client.New(client.Options{Addr: silentServer(t), ReadTimeout: 100 * time.Millisecond, DialTimeout: time.Second})
	defer slow.Close()
	if _, _, err := slow.Get(ctx, "k"); client.KindOf(err) != client.KindTimeout {
		t.Fatalf("get from a silent server: %v; want a timeout", err)
	}
	if got := slow.Stats().ErrorsByKind["timeout"]; got != 1 {
		t.Errorf("timeouts %d; want 1", got)
	}
}

// TestClientsShareStats: Clients given one stats.Server count together.
func TestClientsShareStats(t *testing.T) {
	ctx := context.Background()
	s := startRedis(t)
	shared := new(stats.Server)
	a := client.New(client.Options{Addr: s.Addr, Stats: shared})
	b := client.New(client.Options{Addr: s.Addr, Stats: shared})
	defer a.Close()
	defer b.Close()
	_, _, _ = a.Get(ctx, "x")
	_, _, _ = b.Get(ctx, "x")
	if a.Recorder() != shared || shared.Snapshot().Misses != 2 {
		t.Errorf("shared misses %d; want 2", shared.Snapshot().Misses)
	}
}
