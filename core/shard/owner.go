package shard

import (
	"context"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/expiry"
)

// Owner returns the server that is the authority for key's locks and herd
// flags: key's ring server in Mode Ring, the primary in Mode Primary, the
// first server in Mode Copy (one lock needs one place to live).
func (c *Cache) Owner(key string) *client.Client { return c.servers[c.Locate(key)] }

// AcquireLock takes the lock at key with token on Owner(key) (see
// client.Client.AcquireLock).
func (c *Cache) AcquireLock(ctx context.Context, key, token string, ttl expiry.TTL) (bool, error) {
	return c.Owner(key).AcquireLock(ctx, key, token, ttl)
}

// ReleaseLock releases the lock at key if token holds it (compare-and-delete
// on Owner(key)).
func (c *Cache) ReleaseLock(ctx context.Context, key, token string) (bool, error) {
	return c.Owner(key).ReleaseLock(ctx, key, token)
}

// ExtendLock changes the TTL of the lock at key if token holds it (on
// Owner(key); see client.Client.ExtendLock).
func (c *Cache) ExtendLock(ctx context.Context, key, token string, ttl expiry.TTL, replace bool) (bool, error) {
	return c.Owner(key).ExtendLock(ctx, key, token, ttl, replace)
}

// LockHeld reports whether the lock key exists on Owner(key).
func (c *Cache) LockHeld(ctx context.Context, key string) (bool, error) {
	return c.Owner(key).Exists(ctx, key)
}

// Peek reads the values and remaining TTLs of keys, which all belong with
// keys[0] (a key and its companions, such as get-or-set's flags), from
// Owner(keys[0]) in one round trip (see client.Client.GetManyTTL). Herd
// reads go to the writer, never to a replica that may lag behind the flags.
func (c *Cache) Peek(ctx context.Context, keys []string) ([][]byte, []time.Duration, error) {
	return c.Owner(keys[0]).GetManyTTL(ctx, keys)
}

// Publish writes entries, which all belong with entries[0].Key, where writes
// of that key go: its server, or every server in Mode Copy (see
// client.Client.SetAll).
func (c *Cache) Publish(ctx context.Context, entries []client.Entry) error {
	_, err := write(c, "MULTI", entries[0].Key, func(s *client.Client) (struct{}, error) {
		return struct{}{}, s.SetAll(ctx, entries)
	})
	return err
}

// ScanTargets are the servers that pattern operations walk: every server,
// except in Mode Primary, where the primary alone holds the truth.
func (c *Cache) ScanTargets() []int {
	if c.mode == Primary {
		return []int{c.primary}
	}
	return c.all()
}

// IterTargets are the servers a walk over the keys visits: every server in
// Mode Ring, the primary in Mode Primary, the first server in Mode Copy
// (every server holds the same keys; walking all would repeat each key).
func (c *Cache) IterTargets() []int {
	if c.mode == Copy {
		return []int{0}
	}
	return c.ScanTargets()
}

// DeletePattern deletes the keys matching the glob pattern on every scan
// target concurrently, in UNLINK batches of count (see
// client.Client.DeletePattern), and returns the total. In Mode Copy the
// count is the first server's (every server holds the same keys).
func (c *Cache) DeletePattern(ctx context.Context, pattern string, count int) (int64, error) {
	return c.Each(ctx, "DELETE_PATTERN", func(s *client.Client) (int64, error) {
		return s.DeletePattern(ctx, pattern, count)
	})
}

// Each runs f on every scan target concurrently (see ScanTargets) and
// returns the sum of its results; in Mode Copy f runs on every server and
// the first server's result is returned.
func (c *Cache) Each(ctx context.Context, op string, f func(s *client.Client) (int64, error)) (int64, error) {
	counts, ok, err := fanOut(c, op, c.ScanTargets(), func(_ int, s *client.Client) (int64, error) { return f(s) })
	return c.total(counts, ok), err
}
