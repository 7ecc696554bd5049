// Package cache is an opened cache: the servers and their layout
// (core/shard), the value codec policy (core/codec), the optional
// near-cache with its read-through and the invalidation of its own writes
// (core/nearcache), herd-protected get-or-set (core/herd) and the counters
// shared by every cache opened with the same Config (core/stats), composed
// once. The C library is a conversion layer over it; Go callers get the
// same behaviour from the same object.
//
// Operations take and return the bytes the caller stores: values are
// compressed on the way to Redis and decoded on the way back as Config.Codec
// says. A miss is a false "found" result, never an error; errors carry
// core/client's classes (client.KindOf).
package cache

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"

	"github.com/redis-cache-go/redis-cache-go/core/herd"
	"github.com/redis-cache-go/redis-cache-go/core/nearcache"
	"github.com/redis-cache-go/redis-cache-go/core/shard"
	"github.com/redis-cache-go/redis-cache-go/core/stats"
)

// Cache is an opened cache. It is safe for concurrent use; Close releases
// it.
type Cache struct {
	shards *shard.Cache
	values *values
	near   *nearcache.Cache // nil without Config.LocalCache
	// nearCluster follows a Redis Cluster's primaries for the near-cache
	// (nil without one, or not on a Cluster)
	nearCluster *nearCluster
	herd        *herd.Group
	group       *group
	close       sync.Once
}

// Open validates cfg and returns its Cache. It never touches the network;
// the first operation connects. Caches opened with equal Configs in one
// process share their counters (Stats) and their get-or-set computations.
func Open(cfg Config) (*Cache, error) {
	cfg = cfg.withDefaults()
	if cfg.GoMaxProcs > 0 {
		runtime.GOMAXPROCS(cfg.GoMaxProcs)
	}
	opts, err := cfg.shardOptions()
	if err != nil {
		return nil, err
	}
	vals, err := cfg.Codec.values()
	if err != nil {
		return nil, err
	}
	guard, raise, err := cfg.Protection.protection()
	if err != nil {
		return nil, err
	}
	vals.guard = guard
	near, nc, err := cfg.LocalCache.near(opts)
	if err != nil {
		return nil, err
	}
	g := joinGroup(cfg, &opts)
	shards, err := shard.New(opts)
	if err != nil {
		if near != nil {
			near.Close()
		}
		return nil, err
	}
	c := &Cache{shards: shards, values: vals, near: near, nearCluster: nc, group: g}
	vals.rejected = c.rejecter(raise, cfg.OnReject)
	hopts := herd.Options{Flights: g.flights}
	if guard != nil && !raise {
		hopts.Valid = vals.valid // a value that does not verify is computed again
	}
	c.herd = herd.New(shards, hopts)
	g.add(c)
	return c, nil
}

// Close stops the near-cache and closes every connection; it returns the
// first error. Only the first call does anything; no operation may start
// after it.
func (c *Cache) Close() error {
	err := error(nil)
	c.close.Do(func() {
		c.group.remove(c)
		if c.near != nil {
			c.near.Close() // stops tracking, drops every entry
		}
		err = c.shards.Close()
	})
	return err
}

// String describes the servers without credentials.
func (c *Cache) String() string { return c.shards.String() }

// Shards returns the servers behind the cache, for what the cache does
// not wrap (raw commands on one server, pool figures). A write through
// them bypasses the near-cache's invalidation of own writes.
func (c *Cache) Shards() *shard.Cache { return c.shards }

// forget drops keys this cache just wrote from its near-cache (the push
// from Redis follows; this gives read-your-writes at once).
func (c *Cache) forget(keys ...string) {
	if c.near != nil {
		c.near.Invalidate(keys...)
	}
}

// forgetAll empties the near-cache after a write whose keys are not known
// (clear, delete by pattern, reinsert).
func (c *Cache) forgetAll() {
	if c.near != nil {
		c.near.Flush()
	}
}

// A group holds the counters of every Cache opened with one Config. The
// Python package opens one cache per thread for a cache alias (Django's
// cache handler is per thread); sharing the counters makes Stats answer
// for the whole process, whichever thread asks. Counters outlive the
// caches (they only grow, as Prometheus expects); pool figures are summed
// over the caches that are open. The group's caches also share one table
// of get-or-set computations, so threads with their own caches share a
// computation, and its failure.
type group struct {
	servers []*stats.Server
	flights *herd.Flights
	rejects rejectLog

	mu   sync.Mutex
	live map[*Cache]struct{}
}

var groups sync.Map // sha256 of the Config's JSON -> *group

// joinGroup points opts' servers at the counters of cfg's group, creating
// it on first use.
func joinGroup(cfg Config, opts *shard.Options) *group {
	doc, err := json.Marshal(cfg)
	if err != nil {
		panic(fmt.Sprintf("cache: a Config always marshals: %v", err))
	}
	key := sha256.Sum256(doc)
	g, ok := groups.Load(key)
	if !ok {
		fresh := &group{servers: make([]*stats.Server, len(opts.Servers)), flights: herd.NewFlights(), live: map[*Cache]struct{}{}}
		for i := range fresh.servers {
			fresh.servers[i] = new(stats.Server)
		}
		g, _ = groups.LoadOrStore(key, fresh)
	}
	grp := g.(*group)
	for i := range opts.Servers {
		if i < len(grp.servers) {
			opts.Servers[i].Stats = grp.servers[i]
		}
	}
	return grp
}

func (g *group) add(c *Cache) {
	g.mu.Lock()
	g.live[c] = struct{}{}
	g.mu.Unlock()
}

func (g *group) remove(c *Cache) {
	g.mu.Lock()
	delete(g.live, c)
	g.mu.Unlock()
}

// Stats returns one snapshot of counters per server, in LOCATION order,
// counted by every Cache opened with this Config (see Open), with the pool
// figures of those that are open. It touches no server (a Cluster client
// that has not loaded its slot map loads it).
func (c *Cache) Stats() []stats.Snapshot {
	g := c.group
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]stats.Snapshot, c.shards.Len())
	for i := range out {
		var pool stats.Pool
		for o := range g.live {
			if i < o.shards.Len() {
				pool = pool.Add(o.shards.Server(i).PoolStats())
			}
		}
		out[i] = c.shards.Server(i).Stats()
		out[i].Pool = &pool
	}
	return out
}

// NearStats returns the near-cache's counters, or false when the cache has
// none.
func (c *Cache) NearStats() (nearcache.Stats, bool) {
	if c.near == nil {
		return nearcache.Stats{}, false
	}
	st := c.near.Stats()
	if nc := c.nearCluster; nc != nil {
		nc.mu.Lock()
		// tracking means every primary is tracked: not before the first sync
		st.Tracking = st.Tracking && nc.synced
		nc.mu.Unlock()
	}
	return st, true
}

// NearTrackingIDs returns the CLIENT ID of each tracked server's tracking
// connection (0 while it is down) by server: its LOCATION index, or a
// Cluster node's address; nil without a near-cache.
func (c *Cache) NearTrackingIDs() map[string]int64 {
	if c.near == nil {
		return nil
	}
	return c.near.TrackingIDs()
}

// Ping sends PING to every server, concurrently.
func (c *Cache) Ping(ctx context.Context) error { return c.shards.Ping(ctx) }
