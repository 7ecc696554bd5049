package cache

import (
	"context"
	"slices"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/codec"
	"github.com/redis-cache-go/redis-cache-go/core/expiry"
)

// Get writes key's value to dst and reports whether key exists. The value
// is decoded (Config.Codec); with a near-cache it comes from process memory
// when it can, and a miss there reads through it.
func (c *Cache) Get(ctx context.Context, key string, dst Sink) (bool, error) {
	if c.near != nil {
		v, ok, err := c.nearRead(ctx, key)
		if err != nil || !ok {
			return false, err
		}
		copyTo(dst, v) // v may be the near-cache's own
		return true, nil
	}
	v, ok, err := c.shards.Get(ctx, key)
	if err != nil || !ok {
		return false, err
	}
	return c.values.put(dst, key, v)
}

// Set stores value (compressed as Config.Codec says) at key with ttl (<= 0:
// no expiry) and reports whether it stored it; with onlyIfMissing (Django's
// add) an existing key is left alone and the answer is false. value is not
// kept after Set returns.
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl expiry.TTL, onlyIfMissing bool) (bool, error) {
	stored, buf, err := c.values.encodePooled(key, value)
	if err != nil {
		return false, err
	}
	ok, err := c.shards.Set(ctx, key, stored, ttl, onlyIfMissing)
	buf.release() // Set has written stored (or failed); nothing keeps it
	c.forget(key)
	return ok, err
}

// Delete deletes key and reports whether it existed.
func (c *Cache) Delete(ctx context.Context, key string) (bool, error) {
	ok, err := c.shards.Delete(ctx, key)
	c.forget(key)
	return ok, err
}

// Exists reports whether key exists.
func (c *Cache) Exists(ctx context.Context, key string) (bool, error) {
	return c.shards.Exists(ctx, key)
}

// Expire sets key's TTL (ttl <= 0 deletes it) and reports whether key
// exists.
func (c *Cache) Expire(ctx context.Context, key string, ttl expiry.TTL) (bool, error) {
	ok, err := c.shards.Expire(ctx, key, ttl)
	c.forget(key)
	return ok, err
}

// Persist removes key's expiry and reports whether key exists.
func (c *Cache) Persist(ctx context.Context, key string) (bool, error) {
	ok, err := c.shards.Persist(ctx, key)
	c.forget(key)
	return ok, err
}

// TTL returns key's remaining time to live in milliseconds (-1: no expiry)
// and whether key exists.
func (c *Cache) TTL(ctx context.Context, key string) (expiry.TTL, bool, error) {
	return c.shards.TTL(ctx, key)
}

// Incr adds delta to key's integer value atomically, keeping its TTL, and
// returns the new value; false when key is missing (it is not created).
func (c *Cache) Incr(ctx context.Context, key string, delta int64) (int64, bool, error) {
	v, ok, err := c.shards.Incr(ctx, key, delta)
	c.forget(key)
	return v, ok, err
}

// Rename moves src's value and TTL to dst (replacing dst); false when src
// is missing.
func (c *Cache) Rename(ctx context.Context, src, dst string) (bool, error) {
	if c.values.guard != nil {
		return c.renameSealed(ctx, src, dst)
	}
	ok, err := c.shards.Rename(ctx, src, dst)
	c.forget(src, dst)
	return ok, err
}

// GetMany calls each(i, v) with the decoded value of every key found, v
// valid only during the call; a missing key gets no call. One round trip
// per involved server (see shard.Cache.GetMany); with a near-cache the
// keys it holds are served from it and the others read through it.
func (c *Cache) GetMany(ctx context.Context, keys []string, each func(i int, v []byte)) error {
	if c.near != nil {
		vals, err := c.nearGetMany(ctx, keys)
		if err != nil {
			return err
		}
		client.EachFound(vals, each)
		return nil
	}
	vals := c.values
	if vals.guard == nil {
		decode := vals.decode
		return c.shards.GetManyEach(ctx, keys, func(i int, v []byte) {
			if decode && codec.Sniff(v) != codec.None {
				v, _, _ = vals.decodeValue(keys[i], v)
			}
			each(i, v)
		})
	}
	var rejected error // the first, with Protection.Errors "raise"
	err := c.shards.GetManyEach(ctx, keys, func(i int, v []byte) {
		v, ok, err := vals.decodeValue(keys[i], v)
		if rejected == nil {
			rejected = err
		}
		if ok {
			each(i, v)
		}
	})
	if err == nil {
		err = rejected
	}
	return err
}

// SetMany stores keys[i] = values[i] (compressed) with ttl, as Set: one
// pipeline per involved server.
func (c *Cache) SetMany(ctx context.Context, keys []string, values [][]byte, ttl expiry.TTL) error {
	stored := values // copied on the first value stored in another form
	for i, v := range values {
		s, compressed, err := c.values.codec.EncodeTo(nil, v)
		if err != nil {
			return err
		}
		if c.values.guard != nil {
			s, compressed = c.values.guard.Seal(nil, keys[i], s), true
		}
		if compressed {
			if &stored[0] == &values[0] {
				stored = slices.Clone(values)
			}
			stored[i] = s
		}
	}
	err := c.shards.SetMany(ctx, keys, stored, ttl)
	c.forget(keys...)
	return err
}

// DeleteMany deletes keys and returns how many existed.
func (c *Cache) DeleteMany(ctx context.Context, keys []string) (int64, error) {
	n, err := c.shards.DeleteMany(ctx, keys)
	c.forget(keys...)
	return n, err
}

// Clear deletes the keys matching a glob pattern (SCAN + UNLINK) and
// returns how many; an empty pattern flushes the database (-1). See
// shard.Cache.Clear for the servers involved.
func (c *Cache) Clear(ctx context.Context, pattern string) (int64, error) {
	n, err := c.shards.Clear(ctx, pattern)
	c.forgetAll()
	return n, err
}

// Locate returns the index (LOCATION order) of the server key's writes go
// to, without touching the network.
func (c *Cache) Locate(key string) int { return c.shards.Locate(key) }

// renameSealed is Rename for protected values, which are bound to their
// key name: src's value is opened (one that does not verify is missing),
// sealed for dst and written there with src's remaining TTL, then src is
// deleted. Not atomic, as a rename across ring servers.
func (c *Cache) renameSealed(ctx context.Context, src, dst string) (bool, error) {
	v, left, ok, err := c.shards.Owner(src).GetTTL(ctx, src)
	if err != nil || !ok {
		return false, err
	}
	p, ok, err := c.values.open(src, v, nil)
	if !ok {
		return false, err
	}
	ttl := expiry.TTL(0) // no expiry
	if left != client.NoExpiry {
		if left <= 0 {
			return false, nil // expired as we read it
		}
		ttl = expiry.Of(left)
	}
	if _, err := c.shards.Set(ctx, dst, c.values.guard.Seal(nil, dst, p), ttl, false); err != nil {
		return false, err
	}
	_, err = c.shards.Delete(ctx, src)
	c.forget(src, dst)
	return err == nil, err
}
