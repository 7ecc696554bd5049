package client

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redis-cache-go/redis-cache-go/core/stats"
)

// A near-cache must know which Redis Cluster node a value came from (only
// a node whose invalidations it receives may vouch for a kept value), so
// it reads through the node-level Clients below rather than through the
// cluster client, which follows redirects silently.

// IsCluster reports whether c is a Redis Cluster client.
func (c *Client) IsCluster() bool {
	_, ok := c.rdb.(*redis.ClusterClient)
	return ok
}

// NodeForKey returns, for a Redis Cluster client, the address of the
// primary that serves key's slot in c's current slot map, and a Client on
// that node alone: its commands follow no MOVED or ASK redirect (they fail
// with it, see IsRedirect), so a value it returns was stored on that node.
// It fails when c is not a cluster client or no slot map could be loaded.
func (c *Client) NodeForKey(ctx context.Context, key string) (addr string, node *Client, err error) {
	cc, ok := c.rdb.(*redis.ClusterClient)
	if !ok {
		return "", nil, c.wrap("CLUSTER NODE", errors.New("not a Redis Cluster client"))
	}
	n, err := cc.MasterForKey(ctx, key)
	if err != nil {
		return "", nil, c.wrap("CLUSTER NODE", err)
	}
	addr = n.Options().Addr
	return addr, &Client{rdb: n, name: c.name + " node " + addr, user: c.user, scanCount: c.scanCount, split: true,
		stats: c.stats, direct: true}, nil
}

// observe counts one round trip of a direct node Client (see NodeForKey)
// in the cluster's counters, as the cluster client's hook counts its own.
func (c *Client) observe(start time.Duration, err error) {
	if c.direct {
		c.stats.ObserveSince(stats.OpPipeline, start, Outcome(err))
	}
}

// Primaries returns the addresses of the primaries in c's current slot
// map, sorted (a Redis Cluster client only).
func (c *Client) Primaries(ctx context.Context) ([]string, error) {
	nodes, err := c.masterList(ctx)
	if err != nil {
		return nil, c.wrap("CLUSTER NODES", err)
	}
	out := make([]string, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, n.Options().Addr)
	}
	sort.Strings(out)
	return out, nil
}

// Reload asks a Redis Cluster client to refresh its slot map in the
// background (after a redirect showed it is out of date); a no-op for
// other clients.
func (c *Client) Reload() {
	if cc, ok := c.rdb.(*redis.ClusterClient); ok {
		cc.ReloadState(context.Background())
	}
}

// IsRedirect reports whether err is a Redis Cluster MOVED or ASK reply:
// the node asked does not (or no longer only) hold the key's slot.
func IsRedirect(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	msg := re.Error()
	return strings.HasPrefix(msg, "MOVED ") || strings.HasPrefix(msg, "ASK ")
}
