package main

import (
	"crypto/sha256"
	"sync"

	"github.com/redis-cache-go/redis-cache-go/core/herd"
	"github.com/redis-cache-go/redis-cache-go/core/shard"
	"github.com/redis-cache-go/redis-cache-go/core/stats"
)

// A statsGroup holds the counters of every handle opened with one
// configuration document. Python opens one handle per thread for a cache
// alias (Django's cache handler is per thread); sharing the counters makes
// rcg_cache_stats answer for the whole process, whichever thread asks.
// Counters outlive the handles (they only grow, as Prometheus expects);
// pool figures are summed over the handles that are open. The group's
// handles also share one table of get-or-set computations (herd.go), so
// threads with their own handles share a computation, and its failure.
type statsGroup struct {
	servers []*stats.Server
	flights *herd.Flights

	mu   sync.Mutex
	live map[*entry]struct{}
}

var statsGroups sync.Map // sha256 of the document -> *statsGroup

// joinStatsGroup points opts' servers at the counters of doc's group,
// creating it on first use.
func joinStatsGroup(doc []byte, opts *shard.Options) *statsGroup {
	key := sha256.Sum256(doc)
	g, ok := statsGroups.Load(key)
	if !ok {
		fresh := &statsGroup{servers: make([]*stats.Server, len(opts.Servers)), flights: herd.NewFlights(), live: map[*entry]struct{}{}}
		for i := range fresh.servers {
			fresh.servers[i] = new(stats.Server)
		}
		g, _ = statsGroups.LoadOrStore(key, fresh)
	}
	group := g.(*statsGroup)
	for i := range opts.Servers {
		if i < len(group.servers) {
			opts.Servers[i].Stats = group.servers[i]
		}
	}
	return group
}

func (g *statsGroup) add(e *entry) {
	g.mu.Lock()
	g.live[e] = struct{}{}
	g.mu.Unlock()
}

func (g *statsGroup) remove(e *entry) {
	g.mu.Lock()
	delete(g.live, e)
	g.mu.Unlock()
}

// snapshots returns one snapshot per server of c (e's cache), with the
// pool figures of every open handle of the group.
func (g *statsGroup) snapshots(c *shard.Cache) []stats.Snapshot {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]stats.Snapshot, c.Len())
	for i := range out {
		var pool stats.Pool
		for e := range g.live {
			if i < e.cache.Len() {
				pool = pool.Add(e.cache.Server(i).PoolStats())
			}
		}
		out[i] = c.Server(i).Stats()
		out[i].Pool = &pool
	}
	return out
}
