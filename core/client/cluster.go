package client

import (
	"context"
	"errors"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redis-cache-go/redis-cache-go/core/stats"
)

// In a Redis Cluster a command may name keys of one hash slot only, so the
// multi-key operations of Client run there as pipelines of one-key
// commands: go-redis' cluster pipeline groups them by node and sends one
// pipeline per node, concurrently. Walks over the keyspace (Clear,
// DeletePattern, Scan) visit every primary.

// getManySplit is GetMany as one GET per key in a cluster pipeline.
func (c *Client) getManySplit(ctx context.Context, keys []string) ([][]byte, error) {
	cmds := make([]*redis.StringCmd, len(keys))
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Get(ctx, k)
		}
		return nil
	})
	out := make([][]byte, len(keys))
	hits := 0
	for i, cmd := range cmds {
		v, e := cmd.Bytes()
		if e == redis.Nil {
			continue
		}
		if e != nil {
			return nil, c.wrap("GET", e)
		}
		out[i] = v
		hits++
	}
	if err != nil && err != redis.Nil {
		return nil, c.wrap("GET", err)
	}
	c.stats.Lookups(hits, len(keys)-hits)
	return out, nil
}

// countSplit runs op (DEL or UNLINK) once per key in a cluster pipeline
// and returns how many keys existed.
func (c *Client) countSplit(ctx context.Context, op string, keys []string) (int64, error) {
	cmds, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			if op == "DEL" {
				p.Del(ctx, k)
			} else {
				p.Unlink(ctx, k)
			}
		}
		return nil
	})
	if err != nil {
		return 0, c.wrap(op, firstErr(cmds, err))
	}
	var n int64
	for _, cmd := range cmds {
		n += cmd.(*redis.IntCmd).Val()
	}
	return n, nil
}

// unlink removes keys with UNLINK (one command, or one per key in a
// cluster) and returns how many existed.
func (c *Client) unlink(ctx context.Context, keys []string) (int64, error) {
	if c.split {
		return c.countSplit(ctx, "UNLINK", keys)
	}
	n, err := c.rdb.Unlink(ctx, keys...).Result()
	return n, c.wrap("UNLINK", err)
}

// getManyTTLSplit is GetManyTTL as one GET and one PTTL per key in a
// cluster pipeline.
func (c *Client) getManyTTLSplit(ctx context.Context, keys []string) ([][]byte, []time.Duration, error) {
	gets := make([]*redis.StringCmd, len(keys))
	pttls := make([]*redis.Cmd, len(keys))
	start := stats.Now()
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			gets[i] = p.Get(ctx, k)
			pttls[i] = p.Do(ctx, "pttl", k) // in ms as sent (see ttlOf)
		}
		return nil
	})
	if err == redis.Nil {
		c.observe(start, nil)
	} else {
		c.observe(start, err)
	}
	if err != nil && err != redis.Nil {
		return nil, nil, c.wrap("GET", err)
	}
	out := make([][]byte, len(keys))
	ttls := make([]time.Duration, len(keys))
	for i, cmd := range gets {
		v, e := cmd.Bytes()
		if e == redis.Nil {
			continue
		}
		if e != nil {
			return nil, nil, c.wrap("GET", e)
		}
		ms, _ := pttls[i].Int64()
		out[i], ttls[i] = nonNil(v), ttlOf(ms)
	}
	return out, ttls, nil
}

// renameSplit is Rename in a cluster: RENAME when both keys share a slot;
// otherwise a copy (DUMP + PTTL, RESTORE … REPLACE on dst's node) and a
// delete of src. The copy is not atomic: a concurrent writer of src
// between the steps loses its write, as with any cross-slot move.
//
// While their slot is being migrated (resharding), RENAME of two keys of
// one slot is refused with TRYAGAIN whenever either key is absent from the
// node asked (dst usually is), until the slot's migration ends; go-redis'
// few retries do not outlast it. Then the copy is used too: its one-key
// commands are served on either node through ASK redirects.
func (c *Client) renameSplit(ctx context.Context, src, dst string) (bool, error) {
	cc, ok := c.rdb.(*redis.ClusterClient)
	if ok {
		if s1, s2 := cc.ClusterKeySlot(ctx, src).Val(), cc.ClusterKeySlot(ctx, dst).Val(); s1 == s2 {
			err := c.rdb.Rename(ctx, src, dst).Err()
			if err != nil && isNoSuchKey(err) {
				return false, nil
			}
			if !redis.IsTryAgainError(err) {
				return err == nil, c.wrap("RENAME", err)
			}
		}
	}
	var dump *redis.StringCmd
	var pttl *redis.Cmd
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		dump = p.Dump(ctx, src)
		pttl = p.Do(ctx, "pttl", src) // in ms as sent: go-redis' PTTL goes through a time.Duration
		return nil
	})
	if err != nil && err != redis.Nil {
		return false, c.wrap("DUMP", err)
	}
	payload, e := dump.Result()
	if e == redis.Nil {
		return false, nil
	}
	if e != nil {
		return false, c.wrap("DUMP", e)
	}
	ms, _ := pttl.Int64()
	if err := c.rdb.Do(ctx, "restore", dst, max(ms, 0), payload, "replace").Err(); err != nil {
		return false, c.wrap("RESTORE", err)
	}
	if err := c.rdb.Del(ctx, src).Err(); err != nil {
		return true, c.wrap("DEL", err)
	}
	return true, nil
}

// eachMaster runs f concurrently on a Client for every primary (one-key
// commands, no walks of its own) and returns the sum of the results.
func (c *Client) eachMaster(ctx context.Context, f func(n *Client) (int64, error)) (int64, error) {
	u, ok := c.rdb.(interface {
		ForEachMaster(context.Context, func(context.Context, *redis.Client) error) error
	})
	if !ok {
		return f(c)
	}
	var total atomic.Int64
	err := u.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		n, err := f(&Client{rdb: node, split: c.split, name: c.name, scanCount: c.scanCount})
		total.Add(n)
		return err
	})
	return total.Load(), c.wrap("FOREACH", unwrapOwn(err))
}

func unwrapOwn(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e.Err
	}
	return err
}

// clearMasters is Clear on every primary; an empty pattern flushes each.
func (c *Client) clearMasters(ctx context.Context, pattern string) (int64, error) {
	n, err := c.eachMaster(ctx, func(node *Client) (int64, error) { return node.Clear(ctx, pattern) })
	if pattern == "" {
		return -1, err
	}
	return n, err
}

// masterList returns the primaries' clients in a stable order (by
// address), for walks that carry a cursor between calls.
func (c *Client) masterList(ctx context.Context) ([]*redis.Client, error) {
	u, ok := c.rdb.(interface {
		ForEachMaster(context.Context, func(context.Context, *redis.Client) error) error
	})
	if !ok {
		return nil, errors.New("not a multi-node client")
	}
	var mu sync.Mutex
	var nodes []*redis.Client
	err := u.ForEachMaster(ctx, func(_ context.Context, n *redis.Client) error {
		mu.Lock()
		nodes = append(nodes, n)
		mu.Unlock()
		return nil
	})
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Options().Addr < nodes[j].Options().Addr })
	return nodes, err
}

// scanNodeShift puts the index of the primary being walked in the top byte
// of the cursor; a Redis SCAN cursor of a cache-sized table fits below it.
const scanNodeShift = 56

// scanMasters is one Scan step over the primaries in turn: the cursor's
// top byte is the primary's index (in masterList order), the rest that
// primary's own cursor. A topology change during a walk may repeat or
// skip keys, as SCAN itself may on a resize.
func (c *Client) scanMasters(ctx context.Context, cursor uint64, pattern string, count int) ([]string, uint64, error) {
	nodes, err := c.masterList(ctx)
	if err != nil {
		return nil, 0, c.wrap("SCAN", err)
	}
	idx := int(cursor >> scanNodeShift)
	inner := cursor & (1<<scanNodeShift - 1)
	if idx >= len(nodes) {
		return nil, 0, nil
	}
	keys, next, err := nodes[idx].Scan(ctx, inner, pattern, int64(count)).Result()
	if err != nil {
		return nil, 0, c.wrap("SCAN", err)
	}
	if next >= 1<<scanNodeShift {
		return nil, 0, c.wrap("SCAN", errors.New("server cursor too large to carry a node index"))
	}
	if next == 0 {
		if idx+1 >= len(nodes) {
			return keys, 0, nil
		}
		return keys, uint64(idx+1) << scanNodeShift, nil
	}
	return keys, uint64(idx)<<scanNodeShift | next, nil
}
