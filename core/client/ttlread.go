package client

import (
	"context"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/expiry"
	"github.com/redis-cache-go/redis-cache-go/core/stats"
	"github.com/redis/go-redis/v9"
)

// GetTTL returns the value stored at key and its remaining time to live
// (NoExpiry when it has none; 0 when it expired right after the GET) in one
// round trip (GET and PTTL pipelined),
// for callers that cache the value and must not keep it past its expiry.
// found is false when the key is missing.
func (c *Client) GetTTL(ctx context.Context, key string) (value []byte, ttl time.Duration, found bool, err error) {
	if c.wire != nil {
		return c.wireGetTTL(ctx, key)
	}
	var get *redis.StringCmd
	var pttl *redis.Cmd
	start := stats.Now()
	_, err = c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, key)
		pttl = p.Do(ctx, "pttl", key)
		return nil
	})
	if err == redis.Nil {
		err = nil
	}
	c.observe(start, err)
	if err != nil {
		return nil, 0, false, c.wrap("GET", err)
	}
	v, gerr := get.Bytes()
	if gerr == redis.Nil {
		return nil, 0, false, nil
	}
	if gerr != nil {
		return nil, 0, false, c.wrap("GET", gerr)
	}
	ms, _ := pttl.Int64()
	return v, ttlOf(ms), true, nil
}

// GetManyTTL is GetMany plus each key's remaining time to live (as GetTTL;
// 0 for a missing key), in one round trip (MGET and one PTTL per key; in a
// Cluster one GET and one PTTL per key). A missing key's value is nil, a
// stored empty value is empty but not nil. It counts no hit or miss.
func (c *Client) GetManyTTL(ctx context.Context, keys []string) ([][]byte, []time.Duration, error) {
	out := make([][]byte, len(keys))
	ttls := make([]time.Duration, len(keys))
	if len(keys) == 0 {
		return out, ttls, nil
	}
	if c.split {
		return c.getManyTTLSplit(ctx, keys)
	}
	var mget *redis.SliceCmd
	pttls := make([]*redis.Cmd, len(keys))
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		mget = p.MGet(ctx, keys...)
		for i, k := range keys {
			pttls[i] = p.Do(ctx, "pttl", k)
		}
		return nil
	})
	if err != nil {
		return nil, nil, c.wrap("MGET", err)
	}
	for i, v := range mget.Val() {
		if s, ok := v.(string); ok {
			out[i] = append(make([]byte, 0, len(s)), s...) // never nil
			ms, _ := pttls[i].Int64()
			ttls[i] = ttlOf(ms)
		}
	}
	return out, ttls, nil
}

// ttlOf maps a PTTL reply in ms to ours: -1 (no expiry) is NoExpiry; -2
// (the key expired between the two commands) is 0; a TTL longer than a
// time.Duration holds (about 292 years) is the longest one, never wrapped.
func ttlOf(ms int64) time.Duration {
	switch {
	case ms == -1:
		return NoExpiry
	case ms < 0:
		return 0
	}
	return expiry.TTL(ms).Duration()
}

// nonNil returns v, or an empty non-nil slice for a stored empty value.
func nonNil(v []byte) []byte {
	if v == nil {
		return []byte{}
	}
	return v
}
