package cache

import (
	"context"
	"fmt"

	"github.com/redis-cache-go/redis-cache-go/core/expiry"
	"github.com/redis-cache-go/redis-cache-go/core/lock"
	"github.com/redis-cache-go/redis-cache-go/core/shard"
)

// AcquireLock takes a distributed lock on the raw key (core/lock) with a
// fresh token, on the key's server, and returns the token; false when the
// lock is held elsewhere (after waiting, with o.Blocking).
func (c *Cache) AcquireLock(ctx context.Context, key string, o lock.Options) (string, bool, error) {
	token := lock.NewToken()
	ok, err := lock.Acquire(ctx, c.shards, key, token, o)
	if err != nil || !ok {
		return "", false, err
	}
	return token, true, nil
}

// ReleaseLock frees key's lock if token still holds it, and reports
// whether it did.
func (c *Cache) ReleaseLock(ctx context.Context, key, token string) (bool, error) {
	return c.shards.ReleaseLock(ctx, key, token)
}

// ExtendLock adds ttl to the lock's remaining time (sets it, with replace)
// while token holds it, and reports whether it did.
func (c *Cache) ExtendLock(ctx context.Context, key, token string, ttl expiry.TTL, replace bool) (bool, error) {
	return c.shards.ExtendLock(ctx, key, token, ttl, replace)
}

// LockHeld reports whether anyone holds key's lock.
func (c *Cache) LockHeld(ctx context.Context, key string) (bool, error) {
	return c.shards.LockHeld(ctx, key)
}

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
