package djcache

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/cache"
	"github.com/redis-cache-go/redis-cache-go/internal/redistest"
)

// The settings the Python package sends for the same options.
func TestConfigIsThePythonDocument(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		check func(cache.Config) bool
	}{
		{"one server", Options{Location: []string{"redis://:pw@h:1/3?socket_timeout=0.5"}, SocketTimeout: time.Second},
			func(c cache.Config) bool {
				s := c.Servers[0]
				return len(c.Servers) == 1 && s.Addr == "h:1" && s.DB == 3 && s.Password == "pw" && s.SocketTimeout == 0.5 && c.SocketTimeout == 1
			}},
		{"tls", Options{Location: []string{"rediss://h:1?ssl_cert_reqs=none"}},
			func(c cache.Config) bool {
				t := c.Servers[0].TLS
				return t != nil && t.CertReqs == "none" && t.ServerName == "h"
			}},
		{"cluster", Options{Location: []string{"a:1", "b:2"}, Cluster: true, ReadFromReplicas: true},
			func(c cache.Config) bool {
				t := c.Topology
				return len(c.Servers) == 0 && c.DB == 0 && t.Kind == "cluster" && len(t.Addrs) == 2 && t.Addrs[1] == "b:2" && t.ReadFromReplicas
			}},
		{"sentinel", Options{Location: []string{"redis://:pw@ignored:1/4"}, Sentinels: []string{"s:26379"}, SentinelService: "mymaster"},
			func(c cache.Config) bool {
				t := c.Topology
				return c.DB == 4 && c.Password == "pw" && t.Kind == "sentinel" && t.Service == "mymaster" && t.Addrs[0] == "s:26379"
			}},
		{"near-cache", Options{KeyPrefix: "site", LocalCache: &LocalCache{MaxEntries: 5, TTL: 2 * time.Second}},
			func(c cache.Config) bool {
				lc := c.LocalCache
				return lc != nil && lc.Prefix == "site:" && lc.MaxEntries == 5 && lc.TTL == 2
			}},
		{"breaker and codec", Options{CircuitBreakerFailures: -1, CircuitBreakerCooldown: 3 * time.Second, CompressMinLen: 9},
			func(c cache.Config) bool {
				return c.BreakerFailures == -1 && c.BreakerCooldown == 3 && c.Codec.Compressor == "none" && c.Codec.MinLen == 9
			}},
	}
	for _, tt := range tests {
		cfg, err := config(tt.opts)
		if err != nil || !tt.check(cfg) {
			t.Errorf("%s: got %+v, %v; want the Python package's document", tt.name, cfg, err)
		}
	}
}

func TestConfigRejects(t *testing.T) {
	tests := []struct {
		opts Options
		want string
	}{
		{Options{Cluster: true, Sentinels: []string{"s:1"}}, "cannot be combined"},
		{Options{SentinelService: "m"}, "need Sentinels"},
		{Options{ReadFromReplicas: true}, "needs Cluster or Sentinels"},
		{Options{Location: []string{"/tmp/r.sock"}, Cluster: true}, "host:port"},
		{Options{Location: []string{"a:1", "b:2"}, Weights: []int{1}}, "Weights"},
	}
	for _, tt := range tests {
		if _, err := config(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: got error %v; want one containing %q", tt.opts, err, tt.want)
		}
	}
	sentinel := Options{Location: []string{"ignored:1"}, Sentinels: []string{"127.0.0.1:1"}, SentinelService: "m", LocalCache: &LocalCache{}}
	if c, err := Open(sentinel); err == nil {
		c.Close()
		t.Errorf("LocalCache behind Sentinel: got no error; want one")
	}
	c, err := Open(Options{Location: []string{"127.0.0.1:1", "127.0.0.1:2"}, LocalCache: &LocalCache{}})
	if err != nil {
		t.Fatalf("LocalCache over a ring of two servers: got %v; want it accepted", err)
	}
	c.Close()
}

func TestNearCacheThroughDjcache(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	c, err := Open(Options{Location: []string{srv.Addr}, KeyPrefix: "site", LocalCache: &LocalCache{}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Set(ctx, "k", "v1", 0); err != nil {
		t.Fatal(err)
	}
	hits := func() int64 { st, _ := c.NearStats(); return st.Hits }
	deadline := time.Now().Add(30 * time.Second)
	for before := hits(); hits() == before; { // until a read is served from memory
		if v, _, err := c.Get(ctx, "k"); err != nil || v != "v1" {
			t.Fatalf("Get: got %v, %v; want v1", v, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no read was served from the near-cache")
		}
	}
	if err := c.Set(ctx, "k", "v2", 0); err != nil {
		t.Fatal(err)
	}
	if v, _, err := c.Get(ctx, "k"); err != nil || v != "v2" {
		t.Errorf("Get after Set: got %v, %v; want v2 at once (own writes are forgotten)", v, err)
	}
	if st := c.Stats(); len(st) != 1 || st[0].Hits == 0 {
		t.Errorf("Stats: got %+v; want the server's hits", st)
	}
}

func TestIgnoreExceptions(t *testing.T) {
	ctx := context.Background()
	var ignored atomic.Int64
	down := Options{Location: []string{redistest.FreeAddr(t)}, ConnectTimeout: time.Second, SocketTimeout: time.Second,
		IgnoreExceptions: true, IgnoredErrors: func(error) { ignored.Add(1) }}
	c, err := Open(down)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	computed := 0
	tests := []struct {
		name string
		f    func() (any, error)
		want any
	}{
		{"get", func() (any, error) { _, found, err := c.Get(ctx, "k"); return found, err }, false},
		{"get many", func() (any, error) { m, err := c.GetMany(ctx, []string{"k"}); return len(m), err }, 0},
		{"set", func() (any, error) { return nil, c.Set(ctx, "k", 1, 0) }, nil},
		{"add", func() (any, error) { return c.Add(ctx, "k", 1, 0) }, false},
		{"delete", func() (any, error) { return c.Delete(ctx, "k") }, false},
		{"has", func() (any, error) { return c.Has(ctx, "k") }, false},
		{"touch", func() (any, error) { return c.Touch(ctx, "k", 0) }, false},
		{"delete many", func() (any, error) { return c.DeleteMany(ctx, []string{"k"}) }, int64(0)},
		{"get or set", func() (any, error) {
			return c.GetOrSet(ctx, "k", 0, func(context.Context) (any, error) { computed++; return "dflt", nil })
		}, "dflt"},
	}
	for _, tt := range tests {
		if got, err := tt.f(); err != nil || got != tt.want {
			t.Errorf("%s on a server that is down: got %v, %v; want %v, nil", tt.name, got, err, tt.want)
		}
	}
	if computed != 1 || ignored.Load() < int64(len(tests)) {
		t.Errorf("got %d computations, %d ignored errors; want 1 and at least %d", computed, ignored.Load(), len(tests))
	}
	if _, err := c.Incr(ctx, "k", 1); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Incr on a server that is down: got %v; want the connection error", err)
	}
	strict, err := Open(Options{Location: down.Location, ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer strict.Close()
	if _, _, err := strict.Get(ctx, "k"); err == nil {
		t.Errorf("Get without IgnoreExceptions: got no error; want the connection error")
	}
}
