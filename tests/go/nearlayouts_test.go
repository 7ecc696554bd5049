package gotests

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redis-cache-go/redis-cache-go/core/cache"
	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/nearcache"
)

// trackingClients counts srv's connections with client tracking on.
func trackingClients(t *testing.T, srv *redisServer) int {
	t.Helper()
	n := 0
	for _, line := range strings.Split(srv.do(t, "CLIENT", "LIST"), "\n") {
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "flags=") && strings.Contains(f, "t") {
				n++
			}
		}
	}
	return n
}

// openLayout opens a cache over servers in mode with a near-cache on the
// "app:" keys and waits until every tracked server confirmed tracking.
func openLayout(t *testing.T, mode string, servers ...*redisServer) *cache.Cache {
	t.Helper()
	cfg := cache.Config{Mode: mode, LocalCache: &cache.LocalCache{Prefix: "app:"}}
	for _, s := range servers {
		cfg.Servers = append(cfg.Servers, cache.Server{Endpoint: cache.Endpoint{Addr: s.Addr}})
	}
	c, err := cache.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	waitFor(t, "tracking confirmed", func() bool {
		c.Get(context.Background(), "app:warm-up", &cache.Buffer{})
		st, _ := c.NearStats()
		return st.Tracking
	})
	return c
}

func nearGet(t *testing.T, c *cache.Cache, key string) string {
	t.Helper()
	var b cache.Buffer
	if _, err := c.Get(context.Background(), key, &b); err != nil {
		t.Fatalf("Get %s: %v", key, err)
	}
	return string(b.B)
}

func TestNearCacheTracksTheServersReadsGoTo(t *testing.T) {
	a, b, c := startRedis(t), startRedis(t), startRedis(t)
	cases := []struct {
		mode        string
		wantTracked int
		wantOn      []int // how many tracking connections each server gets
	}{
		{"ring", 3, []int{1, 1, 1}},
		{"copy", 3, []int{1, 1, 1}},
		{"primary", 1, []int{1, 0, 0}}, // misses read the primary (see shard.Cache.ReadServer)
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			nc := openLayout(t, tc.mode, a, b, c)
			if st, _ := nc.NearStats(); st.Tracked != int64(tc.wantTracked) || st.TrackedUp != int64(tc.wantTracked) {
				t.Fatalf("tracked %d, up %d; want %d and %d", st.Tracked, st.TrackedUp, tc.wantTracked, tc.wantTracked)
			}
			for i, srv := range []*redisServer{a, b, c} {
				if got := trackingClients(t, srv); got != tc.wantOn[i] {
					t.Errorf("server %d has %d tracking connections; want %d", i, got, tc.wantOn[i])
				}
			}
			// every key is kept, and another client's write on the server
			// that holds it is seen (never the old value once it was)
			for k := 0; k < 30; k++ {
				key := fmt.Sprintf("app:k%d", k)
				if _, err := nc.Set(context.Background(), key, []byte("old"), 0, false); err != nil {
					t.Fatal(err)
				}
				waitFor(t, key+" cached", func() bool {
					nearGet(t, nc, key)
					before, _ := nc.NearStats()
					nearGet(t, nc, key)
					after, _ := nc.NearStats()
					return after.Hits > before.Hits
				})
				for _, srv := range []*redisServer{a, b, c} { // the other writer writes every copy
					if tc.mode == "ring" && nc.Shards().Locate(key) != indexOf(srv, a, b, c) {
						continue
					}
					srv.do(t, "SET", key, "new")
				}
				waitFor(t, key+" new", func() bool { return nearGet(t, nc, key) == "new" })
				for i := 0; i < 20; i++ {
					if got := nearGet(t, nc, key); got != "new" {
						t.Fatalf("%s: got %q after %q was seen", key, got, "new")
					}
				}
			}
		})
	}
}

func indexOf(s *redisServer, all ...*redisServer) int {
	for i, x := range all {
		if x == s {
			return i
		}
	}
	return -1
}

// TestNearCacheOnAReplica checks what a near-cache that reads from a
// replica would rely on: a BCAST tracking connection on a replica is told
// about keys the replication stream changes, and about a FLUSHALL.
func TestNearCacheOnAReplica(t *testing.T) {
	primary := startRedis(t)
	port := primary.Addr[strings.LastIndex(primary.Addr, ":")+1:]
	replica := startRedis(t, "--replicaof", "127.0.0.1", port)
	waitFor(t, "the replica in sync", func() bool {
		return strings.Contains(replica.do(t, "INFO", "replication"), "master_link_status:up")
	})
	n := newNear(t, replica, nearcache.Options{Prefix: "app:"})
	cl := newClient(t, client.Options{Addr: replica.Addr})
	primary.do(t, "SET", "app:k", "1")
	waitFor(t, "1 replicated", func() bool { got, _ := fetch(t, n, cl, "app:k"); return got == "1" })
	cached(t, n, cl, "app:k")
	for i := 2; i <= 20; i++ {
		want := fmt.Sprint(i)
		primary.do(t, "SET", "app:k", want)
		waitFor(t, want+" seen through the replica", func() bool { got, _ := fetch(t, n, cl, "app:k"); return got == want })
	}
	if st := n.Stats(); st.Hits == 0 || st.Invalidations < 19 {
		t.Fatalf("hits=%d invalidations=%d; want hits and one invalidation per replicated write", st.Hits, st.Invalidations)
	}
	flushes := n.Stats().Flushes
	primary.do(t, "FLUSHALL")
	waitFor(t, "the replicated FLUSHALL flushes", func() bool { return n.Stats().Flushes > flushes && n.Stats().Entries == 0 })
}

// TestNearCacheOneServerLossFlushesAll: killing one ring server's
// tracking connection flushes everything (its invalidations may be lost),
// then the others fill again at once while it reconnects.
func TestNearCacheOneServerLossFlushesAll(t *testing.T) {
	a, b := startRedis(t), startRedis(t)
	nc := openLayout(t, "ring", a, b)
	ids := map[string]int64{}
	waitFor(t, "tracking ids", func() bool {
		ids = trackingIDs(nc)
		return len(ids) == 2 && ids["0"] != 0 && ids["1"] != 0
	})
	if _, err := nc.Set(context.Background(), "app:x", []byte("v"), 0, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "app:x cached", func() bool { nearGet(t, nc, "app:x"); st, _ := nc.NearStats(); return st.Entries > 0 })
	a.do(t, "CLIENT", "KILL", "ID", fmt.Sprint(ids["0"]))
	waitFor(t, "the loss flushes", func() bool { st, _ := nc.NearStats(); return st.Entries == 0 && st.Failures > 0 })
	waitFor(t, "both tracking again", func() bool { st, _ := nc.NearStats(); return st.Tracking && st.Connects >= 3 })
}

// trackingIDs returns the near-cache's tracking connection ids by server.
func trackingIDs(c *cache.Cache) map[string]int64 { return c.NearTrackingIDs() }
