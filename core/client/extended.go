package client

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// releaseScript deletes a lock key only while it still holds the caller's
// token (compare-and-delete), answering 1 when it did. It is the same script
// redis-py's Lock.release runs, so a lock taken by django-redis-cache can be
// released here and the other way round.
var releaseScript = redis.NewScript(`local token = redis.call('get', KEYS[1])
if not token or token ~= ARGV[1] then
  return 0
end
redis.call('del', KEYS[1])
return 1`)

// extendScript sets a lock key's TTL to ARGV[2] ms (or adds it to the
// remaining TTL when ARGV[3] is "0"; a lock without expiry keeps none) only
// while the key holds the caller's token, answering 1 when it holds it.
var extendScript = redis.NewScript(`local token = redis.call('get', KEYS[1])
if not token or token ~= ARGV[1] then
  return 0
end
local ttl = tonumber(ARGV[2])
if ARGV[3] == '0' then
  local left = redis.call('pttl', KEYS[1])
  if left < 0 then return 1 end
  ttl = ttl + left
end
if ttl > 0 then redis.call('pexpire', KEYS[1], ttl) end
return 1`)

// AcquireLock stores token at key only if key is missing (SET NX), with a
// TTL of ttl (millisecond precision; ttl <= 0 means no expiry), and reports
// whether it did.
func (c *Client) AcquireLock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	if ttl < 0 {
		ttl = 0
	}
	ok, err := c.rdb.SetNX(ctx, key, token, ttl).Result()
	return ok, c.wrap("SET NX", err)
}

// ReleaseLock deletes key only if it holds token, atomically, and reports
// whether it did (false: the lock expired or another owner holds it).
func (c *Client) ReleaseLock(ctx context.Context, key, token string) (bool, error) {
	n, err := releaseScript.Run(ctx, c.rdb, []string{key}, token).Int64()
	return n == 1, c.wrap("EVALSHA release", err)
}

// ExtendLock sets the TTL of key to ttl (replace) or adds ttl to what is
// left (not replace), only while key holds token; it reports whether it did.
func (c *Client) ExtendLock(ctx context.Context, key, token string, ttl time.Duration, replace bool) (bool, error) {
	r := "0"
	if replace {
		r = "1"
	}
	n, err := extendScript.Run(ctx, c.rdb, []string{key}, token, ttl.Milliseconds(), r).Int64()
	return n == 1, c.wrap("EVALSHA extend", err)
}

// SetAll writes entries (each with its TTL; <= 0 or NoExpiry: none) in one
// MULTI/EXEC transaction, so a reader sees all of them or none. In a
// Cluster, where the keys may live in different slots, it is one pipeline
// instead (not atomic).
func (c *Client) SetAll(ctx context.Context, entries []Entry) error {
	run := c.rdb.TxPipelined
	if c.split {
		run = c.rdb.Pipelined
	}
	cmds, err := run(ctx, func(p redis.Pipeliner) error {
		for _, e := range entries {
			p.Set(ctx, e.Key, e.Value, max(e.TTL, 0))
		}
		return nil
	})
	if err != nil {
		return c.wrap("MULTI", firstErr(cmds, err))
	}
	return nil
}

// SwapIfEqual replaces the value of each Swap's Key by New, keeping its
// TTL, only where the key still holds Old (compare-and-set, atomic per key,
// one pipeline), and returns how many it replaced.
func (c *Client) SwapIfEqual(ctx context.Context, swaps []Swap) (int64, error) {
	if len(swaps) == 0 {
		return 0, nil
	}
	cmds := make([]*redis.Cmd, len(swaps))
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, s := range swaps {
			// EVAL, not EVALSHA: a pipeline cannot fall back on NOSCRIPT,
			// and this runs once per rewritten key of a rare admin walk.
			cmds[i] = swapScript.Eval(ctx, p, []string{s.Key}, s.Old, s.New)
		}
		return nil
	})
	if err != nil {
		return 0, c.wrap("EVAL swap", err)
	}
	var n int64
	for _, cmd := range cmds {
		got, _ := cmd.Int64()
		n += got
	}
	return n, nil
}

// Swap is one compare-and-set of SwapIfEqual.
type Swap struct {
	Key      string
	Old, New []byte
}

// swapScript sets KEYS[1] to ARGV[2], keeping its TTL, if it holds ARGV[1]
// (no KEEPTTL: Redis older than 6 lacks it).
var swapScript = redis.NewScript(`if redis.call('get', KEYS[1]) ~= ARGV[1] then
  return 0
end
local ttl = redis.call('pttl', KEYS[1])
if ttl > 0 then
  redis.call('set', KEYS[1], ARGV[2], 'PX', ttl)
else
  redis.call('set', KEYS[1], ARGV[2])
end
return 1`)

// Scan runs one SCAN step: the keys matching pattern found from cursor, and
// the cursor to continue from (0 when the walk is over). count <= 0 uses
// Options.ScanCount.
func (c *Client) Scan(ctx context.Context, cursor uint64, pattern string, count int) ([]string, uint64, error) {
	if count <= 0 {
		count = c.scanCount
	}
	if c.masters {
		return c.scanMasters(ctx, cursor, pattern, count)
	}
	keys, next, err := c.rdb.Scan(ctx, cursor, pattern, int64(count)).Result()
	return keys, next, c.wrap("SCAN", err)
}

// DeletePattern deletes the keys matching the glob pattern (which must not
// be empty) with SCAN steps of count and UNLINK batches of at most count
// keys, and returns how many it deleted. count <= 0 uses Options.ScanCount.
func (c *Client) DeletePattern(ctx context.Context, pattern string, count int) (int64, error) {
	if count <= 0 {
		count = c.scanCount
	}
	if c.masters {
		return c.eachMaster(ctx, func(n *Client) (int64, error) { return n.DeletePattern(ctx, pattern, count) })
	}
	var deleted int64
	var cursor uint64
	batch := make([]string, 0, count)
	flush := func() error {
		for len(batch) > 0 {
			n := min(len(batch), count)
			got, err := c.unlink(ctx, batch[:n])
			if err != nil {
				return c.wrap("UNLINK", err)
			}
			deleted += got
			batch = batch[n:]
		}
		batch = batch[:0]
		return nil
	}
	for {
		keys, next, err := c.Scan(ctx, cursor, pattern, count)
		if err != nil {
			return deleted, err
		}
		batch = append(batch, keys...)
		if len(batch) >= count || next == 0 {
			if err := flush(); err != nil {
				return deleted, err
			}
			batch = make([]string, 0, count)
		}
		if next == 0 {
			return deleted, nil
		}
		cursor = next
	}
}

// Unlink removes keys with UNLINK (the server frees their memory in the
// background; one command, or one per key in a Cluster) and returns how
// many existed.
func (c *Client) Unlink(ctx context.Context, keys []string) (int64, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	return c.unlink(ctx, keys)
}

// Entry is one key's stored value and remaining TTL, as Dump reads them.
type Entry struct {
	Key   string
	Value []byte
	TTL   time.Duration // NoExpiry for a key without expiry
}

// Dump reads the values and TTLs of keys in one pipeline (GET and PTTL per
// key); keys that vanished meanwhile, and keys that are not strings, are
// left out.
func (c *Client) Dump(ctx context.Context, keys []string) ([]Entry, error) {
	gets := make([]*redis.StringCmd, len(keys))
	ttls := make([]*redis.DurationCmd, len(keys))
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			gets[i] = p.Get(ctx, k)
			ttls[i] = p.PTTL(ctx, k)
		}
		return nil
	})
	var reply redis.Error // a per-key error reply (WRONGTYPE for a hash) only skips that key
	if err != nil && err != redis.Nil && !errors.As(err, &reply) {
		return nil, c.wrap("GET", err)
	}
	out := make([]Entry, 0, len(keys))
	for i, k := range keys {
		v, err := gets[i].Bytes()
		if err != nil {
			continue // missing, or not a string
		}
		d := ttls[i].Val()
		if d == -2 || d == -2*time.Millisecond {
			continue
		}
		if d < 0 {
			d = NoExpiry
		}
		out = append(out, Entry{Key: k, Value: v, TTL: d})
	}
	return out, nil
}

// Restore writes entries back (SET with each entry's TTL; NoExpiry keeps no
// expiry) in one pipeline, only where the key still exists (SET XX), so a
// key deleted meanwhile stays deleted.
func (c *Client) Restore(ctx context.Context, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	cmds, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, e := range entries {
			ttl := e.TTL
			if ttl < 0 {
				ttl = 0
			}
			p.SetXX(ctx, e.Key, e.Value, ttl)
		}
		return nil
	})
	if err != nil && err != redis.Nil {
		return c.wrap("SET XX", firstErr(cmds, err))
	}
	return nil
}
