package cache

import (
	"context"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/nearcache"
)

// nearRead is a GET through the near-cache: a hit is the cached value (the
// caller copies it and never modifies it); a miss fetches GET + PTTL in one
// round trip and fills the cache with the decoded value unless the key
// changed meanwhile.
func (c *Cache) nearRead(ctx context.Context, key string) ([]byte, bool, error) {
	if v, ok := c.near.Get(key); ok {
		return v, true, nil
	}
	t := c.near.Begin(key)
	if !t.OK() { // tracking not confirmed: a plain GET, nothing is kept
		v, ok, err := c.shards.Get(ctx, key)
		if err != nil || !ok {
			return nil, false, err
		}
		return c.values.decodeValue(key, v)
	}
	v, ttl, ok, err := c.shards.Server(0).GetTTL(ctx, key)
	if err != nil || !ok {
		return nil, false, err
	}
	v, ok, err = c.values.decodeValue(key, v)
	if ok {
		c.near.Fill(t, key, v, ttl)
	}
	return v, ok, err
}

// nearGetMany is GetMany through the near-cache: decoded values aligned
// with keys, nil for a missing key (a cached value is the near-cache's own).
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
	tickets := make([]nearcache.Ticket, len(missing))
	tracked := false // any key can be kept: fetch the TTLs too (Fill skips the others)
	for j, i := range missing {
		miss[j] = keys[i]
		tickets[j] = c.near.Begin(keys[i])
		tracked = tracked || tickets[j].OK()
	}
	var got [][]byte
	var ttls []time.Duration
	var err error
	if tracked {
		got, ttls, err = c.shards.Server(0).GetManyTTL(ctx, miss)
	} else {
		got, err = c.shards.GetMany(ctx, miss)
	}
	if err != nil {
		return nil, err
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
		if tracked {
			c.near.Fill(tickets[j], miss[j], vals[i], ttls[j])
		}
	}
	return vals, nil
}
