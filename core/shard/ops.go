package shard

import (
	"context"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/expiry"
)

// Ping checks every server, concurrently.
func (c *Cache) Ping(ctx context.Context) error {
	_, _, err := fanOut(c, "PING", c.all(), func(_ int, s *client.Client) (struct{}, error) {
		return struct{}{}, s.Ping(ctx)
	})
	return err
}

// Get returns the value of key (see client.Client.Get) from the server a
// read of key goes to.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if c.one != nil {
		return c.one.Get(ctx, key)
	}
	type r struct {
		v  []byte
		ok bool
	}
	out, err := readOne(c, c.readOrder(key), func(s *client.Client) (r, error) {
		v, ok, err := s.Get(ctx, key)
		return r{v, ok}, err
	})
	return out.v, out.ok, err
}

// Exists reports whether key exists (read routing, as Get).
func (c *Cache) Exists(ctx context.Context, key string) (bool, error) {
	if c.one != nil {
		return c.one.Exists(ctx, key)
	}
	return readOne(c, c.readOrder(key), func(s *client.Client) (bool, error) { return s.Exists(ctx, key) })
}

// TTL returns key's time to live (see client.Client.TTL; read routing).
func (c *Cache) TTL(ctx context.Context, key string) (expiry.TTL, bool, error) {
	if c.one != nil {
		return c.one.TTL(ctx, key)
	}
	type r struct {
		d  expiry.TTL
		ok bool
	}
	out, err := readOne(c, c.readOrder(key), func(s *client.Client) (r, error) {
		d, ok, err := s.TTL(ctx, key)
		return r{d, ok}, err
	})
	return out.d, out.ok, err
}

// Set stores key (see client.Client.Set) on its server, or on every server
// in Mode Copy, where stored is the first answering server's.
func (c *Cache) Set(ctx context.Context, key string, value []byte, ttl expiry.TTL, onlyIfMissing bool) (bool, error) {
	if c.one != nil {
		return c.one.Set(ctx, key, value, ttl, onlyIfMissing)
	}
	return write(c, "SET", key, func(s *client.Client) (bool, error) { return s.Set(ctx, key, value, ttl, onlyIfMissing) })
}

// Delete removes key (write routing, as Set).
func (c *Cache) Delete(ctx context.Context, key string) (bool, error) {
	if c.one != nil {
		return c.one.Delete(ctx, key)
	}
	return write(c, "DEL", key, func(s *client.Client) (bool, error) { return s.Delete(ctx, key) })
}

// Expire sets key's time to live (write routing, as Set).
func (c *Cache) Expire(ctx context.Context, key string, ttl expiry.TTL) (bool, error) {
	if c.one != nil {
		return c.one.Expire(ctx, key, ttl)
	}
	return write(c, "PEXPIRE", key, func(s *client.Client) (bool, error) { return s.Expire(ctx, key, ttl) })
}

// Persist removes key's expiry (write routing, as Set).
func (c *Cache) Persist(ctx context.Context, key string) (bool, error) {
	if c.one != nil {
		return c.one.Persist(ctx, key)
	}
	return write(c, "PERSIST", key, func(s *client.Client) (bool, error) { return s.Persist(ctx, key) })
}

// Incr adds delta to the integer at key (see client.Client.Incr; write
// routing, as Set: in Mode Copy every copy is incremented and the first
// answering server's value is returned).
func (c *Cache) Incr(ctx context.Context, key string, delta int64) (int64, bool, error) {
	if c.one != nil {
		return c.one.Incr(ctx, key, delta)
	}
	type r struct {
		v  int64
		ok bool
	}
	out, err := write(c, "INCRBY", key, func(s *client.Client) (r, error) {
		v, ok, err := s.Incr(ctx, key, delta)
		return r{v, ok}, err
	})
	return out.v, out.ok, err
}

// Rename moves src to dst keeping value and TTL (see client.Client.Rename).
// In Mode Ring, when the two keys live on different servers, the value is
// read from src's server, written to dst's with the remaining TTL, and
// deleted from src: not atomic, but every key stays where the ring puts it.
func (c *Cache) Rename(ctx context.Context, src, dst string) (bool, error) {
	if c.one != nil {
		return c.one.Rename(ctx, src, dst)
	}
	if c.ring != nil {
		from, to := c.ring.Locate(src), c.ring.Locate(dst)
		if from != to {
			return c.move(ctx, c.servers[from], c.servers[to], src, dst)
		}
	}
	return write(c, "RENAME", src, func(s *client.Client) (bool, error) { return s.Rename(ctx, src, dst) })
}

func (c *Cache) move(ctx context.Context, from, to *client.Client, src, dst string) (bool, error) {
	v, ok, err := from.Get(ctx, src)
	if err != nil || !ok {
		return false, err
	}
	ttl, ok, err := from.TTL(ctx, src)
	if err != nil || !ok {
		return false, err
	}
	if _, err := to.Set(ctx, dst, v, max(ttl, 0), false); err != nil { // -1: no expiry
		return false, err
	}
	_, err = from.Delete(ctx, src)
	return err == nil, err
}

// manyTargets is how a multi-key write is split: per ring server in Mode
// Ring, every server with every key in Mode Copy, the primary in Mode
// Primary.
func (c *Cache) manyTargets(keys []string) []Group {
	if c.mode == Copy {
		groups := make([]Group, len(c.servers))
		for i := range groups {
			groups[i].Server = i
		}
		return groups
	}
	return c.groupKeys(keys)
}

func servers(groups []Group) []int {
	idx := make([]int, len(groups))
	for k, g := range groups {
		idx[k] = g.Server
	}
	return idx
}

// GetMany returns the values of keys aligned with keys (nil = missing).
// In Mode Ring the keys are split per server and each server gets one MGET,
// all concurrently; otherwise one server answers (read routing, as Get).
func (c *Cache) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	if c.one != nil {
		return c.one.GetMany(ctx, keys)
	}
	if len(keys) == 0 {
		return [][]byte{}, nil
	}
	if c.ring == nil {
		return readOne(c, c.readOrder(""), func(s *client.Client) ([][]byte, error) { return s.GetMany(ctx, keys) })
	}
	groups := c.groupKeys(keys)
	parts, _, err := fanOut(c, "GET_MANY", servers(groups), func(k int, s *client.Client) ([][]byte, error) {
		return s.GetMany(ctx, pick(keys, groups[k].Pos))
	})
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(keys))
	for k, g := range groups {
		for j, p := range g.Pos {
			out[p] = parts[k][j]
		}
	}
	return out, nil
}

// GetManyEach is GetMany calling each(i, v) for every value found instead of
// returning them (see client.Client.GetManyEach: v is valid only during the
// call). With one server the reply is read straight from the connection;
// otherwise GetMany runs and its values are handed over in key order.
func (c *Cache) GetManyEach(ctx context.Context, keys []string, each func(i int, v []byte)) error {
	if c.one != nil {
		return c.one.GetManyEach(ctx, keys, each)
	}
	vals, err := c.GetMany(ctx, keys)
	if err != nil {
		return err
	}
	client.EachFound(vals, each)
	return nil
}

// SetMany stores keys[i] = values[i] with ttl: one pipeline per involved
// server, concurrently (every server in Mode Copy).
func (c *Cache) SetMany(ctx context.Context, keys []string, values [][]byte, ttl expiry.TTL) error {
	if c.one != nil {
		return c.one.SetMany(ctx, keys, values, ttl)
	}
	if len(keys) != len(values) {
		return c.servers[0].SetMany(ctx, keys, values, ttl) // reports the argument error
	}
	if len(keys) == 0 {
		return nil
	}
	groups := c.manyTargets(keys)
	_, _, err := fanOut(c, "SET_MANY", servers(groups), func(k int, s *client.Client) (struct{}, error) {
		return struct{}{}, s.SetMany(ctx, pick(keys, groups[k].Pos), pick(values, groups[k].Pos), ttl)
	})
	return err
}

// DeleteMany removes keys (one DEL per involved server, concurrently) and
// returns how many existed (in Mode Copy: on the first answering server).
func (c *Cache) DeleteMany(ctx context.Context, keys []string) (int64, error) {
	if c.one != nil {
		return c.one.DeleteMany(ctx, keys)
	}
	if len(keys) == 0 {
		return 0, nil
	}
	groups := c.manyTargets(keys)
	counts, ok, err := fanOut(c, "DELETE_MANY", servers(groups), func(k int, s *client.Client) (int64, error) {
		return s.DeleteMany(ctx, pick(keys, groups[k].Pos))
	})
	return c.total(counts, ok), err
}

// Clear deletes the keys matching pattern (see client.Client.Clear) on
// every server concurrently, or on the primary only in Mode Primary (the
// replicas follow it). It returns the total count, or -1 when any server
// was flushed whole.
func (c *Cache) Clear(ctx context.Context, pattern string) (int64, error) {
	if c.one != nil {
		return c.one.Clear(ctx, pattern)
	}
	targets := c.all()
	if c.mode == Primary {
		targets = []int{c.primary}
	}
	counts, ok, err := fanOut(c, "CLEAR", targets, func(_ int, s *client.Client) (int64, error) {
		return s.Clear(ctx, pattern)
	})
	var n int64
	for k, v := range counts {
		if !ok[k] {
			continue
		}
		if v < 0 {
			n = -1
		} else if n >= 0 {
			n += v
		}
	}
	return n, err
}
