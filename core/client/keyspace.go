package client

import (
	"context"
	"errors"

	"github.com/redis-cache-go/redis-cache-go/core/expiry"
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
// while the key holds the caller's token, answering 1 when it holds it. Lua
// numbers are doubles, exact only below 2^53, so the TTL stays a decimal
// string: the sum is added digit by digit (the remaining TTL as the integer
// reply's double prints it) and refused past ARGV[4], the largest TTL.
var extendScript = redis.NewScript(`local token = redis.call('get', KEYS[1])
if not token or token ~= ARGV[1] then
  return 0
end
local ttl = ARGV[2]
if ARGV[3] == '0' then
  local left = redis.call('pttl', KEYS[1])
  if left < 0 then return 1 end
  local a, b, sum, carry = ttl, string.format('%.0f', left), '', 0
  local function digit(s, i)
    local j = #s - i
    if j < 1 then return 0 end
    return tonumber(s:sub(j, j))
  end
  for i = 0, math.max(#a, #b) - 1 do
    local d = carry + digit(a, i) + digit(b, i)
    sum = (d % 10) .. sum
    carry = math.floor(d / 10)
  end
  if carry > 0 then sum = carry .. sum end
  ttl = sum
  local most = ARGV[4]
  if #ttl > #most or (#ttl == #most and ttl > most) then
    return redis.error_reply('ERR the extended time to live would be larger than the largest one stored (' .. most .. ' ms)')
  end
end
if tonumber(ttl) > 0 then redis.call('pexpire', KEYS[1], ttl) end
return 1`)

// AcquireLock stores token at key only if key is missing (SET NX), with a
// TTL of ttl (ttl <= 0 means no expiry; past expiry.MaxMS a KindArgument
// error), and reports whether it did.
func (c *Client) AcquireLock(ctx context.Context, key, token string, ttl expiry.TTL) (bool, error) {
	if err := c.checkTTL("SET NX", ttl); err != nil {
		return false, err
	}
	return c.setCmd(ctx, "SET NX", key, token, ttl, true)
}

// ReleaseLock deletes key only if it holds token, atomically, and reports
// whether it did (false: the lock expired or another owner holds it).
func (c *Client) ReleaseLock(ctx context.Context, key, token string) (bool, error) {
	n, err := releaseScript.Run(ctx, c.rdb, []string{key}, token).Int64()
	return n == 1, c.wrap("EVALSHA release", err)
}

// ExtendLock sets the TTL of key to ttl (replace) or adds ttl to what is
// left (not replace), only while key holds token; it reports whether it did.
// A ttl, or a sum, past expiry.MaxMS is an error and changes nothing.
func (c *Client) ExtendLock(ctx context.Context, key, token string, ttl expiry.TTL, replace bool) (bool, error) {
	if err := c.checkTTL("EVALSHA extend", ttl); err != nil {
		return false, err
	}
	r := "0"
	if replace {
		r = "1"
	}
	n, err := extendScript.Run(ctx, c.rdb, []string{key}, token, int64(ttl), r, int64(expiry.MaxMS)).Int64()
	return n == 1, c.wrap("EVALSHA extend", err)
}

// SetAll writes entries (each with its TTL; <= 0: none) in one
// MULTI/EXEC transaction, so a reader sees all of them or none. In a
// Cluster, where the keys may live in different slots, it is one pipeline
// instead (not atomic).
func (c *Client) SetAll(ctx context.Context, entries []Entry) error {
	for _, e := range entries {
		if err := c.checkTTL("MULTI", e.TTL); err != nil {
			return err
		}
	}
	run := c.rdb.TxPipelined
	if c.split {
		run = c.rdb.Pipelined
	}
	cmds, err := run(ctx, func(p redis.Pipeliner) error {
		for _, e := range entries {
			p.Do(ctx, setArgs(e.Key, e.Value, e.TTL, false)...)
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

// Entry is one key's stored value and remaining TTL, as Dump reads them
// and SetAll and Restore write them.
type Entry struct {
	Key   string
	Value []byte
	TTL   expiry.TTL // 0 for a key without expiry
}

// Dump reads the values and TTLs of keys in one pipeline (GET and PTTL per
// key); keys that vanished meanwhile, and keys that are not strings, are
// left out.
func (c *Client) Dump(ctx context.Context, keys []string) ([]Entry, error) {
	gets := make([]*redis.StringCmd, len(keys))
	ttls := make([]*redis.Cmd, len(keys))
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			gets[i] = p.Get(ctx, k)
			ttls[i] = p.Do(ctx, "pttl", k) // in ms as sent: go-redis' PTTL goes through a time.Duration
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
		ms, err := ttls[i].Int64()
		if err != nil || ms == -2 {
			continue // expired between the two commands
		}
		out = append(out, Entry{Key: k, Value: v, TTL: expiry.TTL(max(ms, 0))})
	}
	return out, nil
}

// Restore writes entries back (SET with each entry's TTL; 0 keeps no
// expiry) in one pipeline, only where the key still exists (SET XX), so a
// key deleted meanwhile stays deleted.
func (c *Client) Restore(ctx context.Context, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	cmds, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, e := range entries {
			p.Do(ctx, append(setArgs(e.Key, e.Value, e.TTL, false), "xx")...)
		}
		return nil
	})
	if err != nil && err != redis.Nil {
		return c.wrap("SET XX", firstErr(cmds, err))
	}
	return nil
}
