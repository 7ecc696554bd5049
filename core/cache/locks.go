package cache

import (
	"context"

	"github.com/redis-cache-go/redis-cache-go/core/expiry"
	"github.com/redis-cache-go/redis-cache-go/core/lock"
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
