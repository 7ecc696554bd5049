package cache

import (
	"context"
	"fmt"

	"github.com/redis-cache-go/redis-cache-go/core/shard"
)

// Do runs one raw Redis command about key (args[0] is its name), routed as
// shard.Cache.Do routes it. A command that is not a read (shard.IsRead)
// drops from the near-cache key and every argument that may name a key
// (MSET, DEL k1 k2 …); Redis' invalidation push covers the rest.
func (c *Cache) Do(ctx context.Context, key string, args ...any) (replies []shard.Reply, perServer bool, err error) {
	replies, perServer, err = c.shards.Do(ctx, key, args...)
	if c.near != nil && len(args) > 0 && !shard.IsRead(fmt.Sprint(args[0])) {
		c.near.Invalidate(key)
		for _, a := range args[1:] {
			if s, ok := a.(string); ok {
				c.near.Invalidate(s)
			}
		}
	}
	return replies, perServer, err
}

// ServerDo runs one raw Redis command on server number server (LOCATION
// order), whatever the layout would route; false when there is no such
// server.
func (c *Cache) ServerDo(ctx context.Context, server int, args ...any) (any, bool, error) {
	if server < 0 || server >= c.shards.Len() {
		return nil, false, nil
	}
	v, err := c.shards.Server(server).Do(ctx, args...)
	return v, true, err
}
