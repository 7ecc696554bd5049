package cache

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/nearcache"
)

// A near-cache fill is kept only when the value was read from a server
// whose invalidations the near-cache receives, with a ticket for that
// server taken before the read (nearcache.Cache.BeginFrom). So a miss
// reads straight from one server, the one the layout would read first: in
// a ring, copy or primary/replica layout the server of shard.ReadServer
// (tracked as its LOCATION index); in a Redis Cluster the primary that owns
// the key's slot in the current slot map, through a node client that
// follows no redirect (tracked as its address). Anything else (tracking not
// confirmed, a MOVED/ASK reply, an outage that the layout can route around)
// is read through the layout as without a near-cache, and not kept.

// nearSource is where a near-cache miss of a key is read from: the tracked
// server's ID and a client on it alone, or a nil client when the read must
// go through the layout.
type nearSource struct {
	id     string
	server int // LOCATION index (-1 in a Cluster)
	cl     *client.Client
}

// serverIDs are the near-cache IDs of LOCATION indexes 0…15 (core/cache
// options.go tracks server i as strconv.Itoa(i)), so a miss allocates none.
var serverIDs = func() (ids [16]string) {
	for i := range ids {
		ids[i] = strconv.Itoa(i)
	}
	return ids
}()

// serverSource is the source of LOCATION index i.
func (c *Cache) serverSource(i int) nearSource {
	id := ""
	if i < len(serverIDs) {
		id = serverIDs[i]
	} else {
		id = strconv.Itoa(i)
	}
	return nearSource{id: id, server: i, cl: c.shards.Server(i)}
}

// nearSourceOf returns where a miss of key is read from.
func (c *Cache) nearSourceOf(ctx context.Context, key string) nearSource {
	if c.nearCluster == nil {
		i := c.shards.ReadServer(key)
		return c.serverSource(i)
	}
	c.nearCluster.once.Do(func() { c.syncNodes() })
	addr, node, err := c.shards.Server(0).NodeForKey(ctx, key)
	if err != nil {
		return nearSource{server: -1}
	}
	srv := c.nearCluster.template
	srv.ID, srv.Addr = addr, addr
	if c.near.Track(srv) {
		c.syncNodes() // a node we did not know: the topology changed
	}
	return nearSource{id: addr, server: -1, cl: node}
}

// nearRetry decides what a failed direct read of src becomes: true to read
// through the layout instead (a Cluster redirect: the slot map is reloaded
// and the tracked nodes brought in line; an outage the layout routes
// around), false to return the error.
func (c *Cache) nearRetry(src nearSource, err error) bool {
	if src.server < 0 {
		if client.IsRedirect(err) {
			c.shards.Server(0).Reload()
			c.syncNodes()
			return true
		}
		return false
	}
	return c.shards.ReadFailed(src.server, err)
}

// nodesTimeout bounds one sync of the tracked nodes (loading the slot map).
const nodesTimeout = 10 * time.Second

// nearCluster is the near-cache's view of a Redis Cluster: which nodes are
// tracked follows the cluster's primaries.
type nearCluster struct {
	template nearcache.Server // credentials, TLS and timeouts of every node
	once     sync.Once        // the first read syncs the tracked nodes
	mu       sync.Mutex
	syncing  bool
	synced   bool // one sync completed: every primary is tracked
}

// syncNodes brings the tracked nodes in line with the cluster's primaries
// in the background (one sync at a time): every primary gets a tracking
// connection, a node that is no longer a primary loses its own.
func (c *Cache) syncNodes() {
	nc := c.nearCluster
	nc.mu.Lock()
	if nc.syncing {
		nc.mu.Unlock()
		return
	}
	nc.syncing = true
	nc.mu.Unlock()
	go func() {
		defer func() {
			nc.mu.Lock()
			nc.syncing = false
			nc.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), nodesTimeout)
		defer cancel()
		addrs, err := c.shards.Server(0).Primaries(ctx)
		if err != nil || len(addrs) == 0 {
			return
		}
		keep := make(map[string]bool, len(addrs))
		for _, a := range addrs {
			keep[a] = true
			srv := nc.template
			srv.ID, srv.Addr = a, a
			c.near.Track(srv)
		}
		c.near.Retain(func(id string) bool { return keep[id] })
		nc.mu.Lock()
		nc.synced = true
		nc.mu.Unlock()
	}()
}

// nearRead is a GET through the near-cache: a hit is the cached value (the
// caller copies it and never modifies it); a miss fetches GET + PTTL in one
// round trip from one tracked server and fills the cache with the decoded
// value unless the key changed meanwhile.
func (c *Cache) nearRead(ctx context.Context, key string) ([]byte, bool, error) {
	if v, ok := c.near.Get(key); ok {
		return v, true, nil
	}
	if src := c.nearSourceOf(ctx, key); src.cl != nil {
		if t := c.near.BeginFrom(src.id, key); t.OK() {
			v, ttl, ok, err := src.cl.GetTTL(ctx, key)
			if err == nil {
				if !ok {
					return nil, false, nil
				}
				v, ok, err = c.values.decodeValue(key, v)
				if ok {
					c.near.Fill(t, key, v, ttl)
				}
				return v, ok, err
			}
			if !c.nearRetry(src, err) {
				return nil, false, err
			}
		}
	}
	// not kept: a plain GET through the layout
	v, ok, err := c.shards.Get(ctx, key)
	if err != nil || !ok {
		return nil, false, err
	}
	return c.values.decodeValue(key, v)
}

// nearGroup is the missed keys read from one source.
type nearGroup struct {
	src nearSource
	pos []int // positions in the missed keys
}

// nearGroups splits the missed keys by the source they are read from.
func (c *Cache) nearGroups(ctx context.Context, miss []string) []nearGroup {
	if c.nearCluster == nil {
		var out []nearGroup
		for _, g := range c.shards.ReadGroups(miss) {
			out = append(out, nearGroup{src: c.serverSource(g.Server), pos: g.Pos})
		}
		return out
	}
	byID := map[string]int{}
	var out []nearGroup
	for p, k := range miss {
		src := c.nearSourceOf(ctx, k)
		g, seen := byID[src.id]
		if !seen || src.cl == nil {
			g = len(out)
			byID[src.id] = g
			out = append(out, nearGroup{src: src})
		}
		out[g].pos = append(out[g].pos, p)
	}
	return out
}

// nearGetMany is GetMany through the near-cache: decoded values aligned
// with keys, nil for a missing key (a cached value is the near-cache's own).
// The misses are read per source (one round trip each, concurrently) with
// their TTLs and filled; those that cannot be kept are read through the
// layout's GetMany.
func (c *Cache) nearGetMany(ctx context.Context, keys []string) ([][]byte, error) {
	vals := make([][]byte, len(keys))
	var missing []int
	for i, k := range keys {
		if v, ok := c.near.Get(k); ok {
			vals[i] = v
		} else {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return vals, nil
	}
	miss := make([]string, len(missing))
	for j, i := range missing {
		miss[j] = keys[i]
	}
	groups := c.nearGroups(ctx, miss)
	got := make([][]byte, len(miss))
	tickets := make([]nearcache.Ticket, len(miss))
	ttls := make([]time.Duration, len(miss))
	direct := make([]bool, len(groups)) // read from its source (else through the layout)
	errs := make([]error, len(groups))
	var reads []func()
	for gi := range groups {
		g := &groups[gi]
		if g.src.cl == nil {
			continue
		}
		tracked := false
		for _, p := range g.pos {
			tickets[p] = c.near.BeginFrom(g.src.id, miss[p])
			tracked = tracked || tickets[p].OK()
		}
		if !tracked {
			continue
		}
		read := func() {
			ks := make([]string, len(g.pos))
			for k, p := range g.pos {
				ks[k] = miss[p]
			}
			vs, ts, err := g.src.cl.GetManyTTL(ctx, ks)
			if err != nil {
				errs[gi] = err
				return
			}
			for k, p := range g.pos {
				got[p], ttls[p] = vs[k], ts[k]
			}
			direct[gi] = true
		}
		reads = append(reads, read)
	}
	var wg sync.WaitGroup
	for _, read := range reads[min(1, len(reads)):] {
		wg.Add(1)
		go func() { defer wg.Done(); read() }()
	}
	if len(reads) > 0 {
		reads[0]() // the first on the calling goroutine
	}
	wg.Wait()
	var rest []int // positions in miss read through the layout
	for gi, g := range groups {
		if errs[gi] != nil && !c.nearRetry(g.src, errs[gi]) {
			return nil, errs[gi]
		}
		if !direct[gi] {
			for _, p := range g.pos {
				tickets[p] = nearcache.Ticket{} // keep nothing read through the layout
			}
			rest = append(rest, g.pos...)
		}
	}
	if len(rest) > 0 {
		ks := make([]string, len(rest))
		for k, p := range rest {
			ks[k] = miss[p]
		}
		vs, err := c.shards.GetMany(ctx, ks)
		if err != nil {
			return nil, err
		}
		for k, p := range rest {
			got[p] = vs[k]
		}
	}
	for j, i := range missing {
		if got[j] == nil {
			continue
		}
		v, ok, err := c.values.decodeValue(miss[j], got[j])
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		vals[i] = v
		if tickets[j].OK() {
			c.near.Fill(tickets[j], miss[j], v, ttls[j])
		}
	}
	return vals, nil
}
