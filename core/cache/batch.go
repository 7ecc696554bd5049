package cache

import (
	"context"
	"sync"

	"github.com/redis-cache-go/redis-cache-go/core/shard"
)

// BatchMax is the most keys GetBatch reads with one MGET: a larger batch is
// read in chunks of BatchMax, concurrently (pipelined on the shared
// connections), so that one reply stays bounded and no single MGET holds
// Redis for long; done is called for a chunk's keys as soon as it is read.
const BatchMax = 128

// GetBatch reads keys as len(keys) concurrent Get calls would and reports
// each key's outcome once through done(i, v, found, err), v valid only
// during the call; it returns when every key has been reported. done may
// be called from several goroutines at once (never twice for one i).
//
// Without a near-cache the keys are read together: grouped by the server
// that owns them (Mode Ring), each group in chunks of at most BatchMax
// keys, each chunk with one MGET (one round trip; in a Cluster one per
// slot's node), the chunks concurrently. A key's value is decoded and
// checked (Config.Protection) as Get does it, key by key; a failed read
// (connection, timeout, breaker) is the error of the keys of its chunk
// only. Two differences from Get, both MGET's: a key holding another type
// than a string reads as missing (Get fails with Redis' WRONGTYPE error),
// and stats() counts each chunk as a get_many round trip.
//
// With a near-cache, keys it holds are answered from it and each other
// key is read as Get reads it, concurrently.
func (c *Cache) GetBatch(ctx context.Context, keys []string, done func(i int, v []byte, found bool, err error)) {
	if c.near != nil {
		c.nearBatch(ctx, keys, done)
		return
	}
	// Positions in keys per owning server (a ring's; every other layout reads
	// a batch as one, as GetMany does), cut into chunks of at most BatchMax.
	var groups []shard.Group
	if c.shards.Len() > 1 && c.shards.Mode() == shard.Ring {
		groups = c.shards.ReadGroups(keys)
	} else {
		all := make([]int, len(keys))
		for i := range all {
			all[i] = i
		}
		groups = []shard.Group{{Pos: all}}
	}
	var chunks [][]int
	for _, g := range groups {
		for pos := g.Pos; len(pos) > 0; {
			n := min(len(pos), BatchMax)
			chunks = append(chunks, pos[:n:n])
			pos = pos[n:]
		}
	}
	if len(chunks) == 0 {
		return
	}
	var run concurrently
	for _, chunk := range chunks[1:] {
		run.spawn(func() { c.readChunk(ctx, keys, chunk, done) })
	}
	run.here(func() { c.readChunk(ctx, keys, chunks[0], done) }) // the first on this goroutine
	run.wait()
}

// concurrently runs functions on goroutines of their own (spawn) and on the
// calling one (here); wait returns when all have returned, then panics
// with the first panic any of them raised, on the calling goroutine, where
// the caller's recover sees it (a panic on another goroutine would end the
// process).
type concurrently struct {
	wg    sync.WaitGroup
	mu    sync.Mutex
	panic any
}

func (r *concurrently) spawn(f func()) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.here(f)
	}()
}

func (r *concurrently) here(f func()) {
	defer func() {
		if v := recover(); v != nil {
			r.mu.Lock()
			if r.panic == nil {
				r.panic = v
			}
			r.mu.Unlock()
		}
	}()
	f()
}

func (r *concurrently) wait() {
	r.wg.Wait()
	if r.panic != nil {
		panic(r.panic)
	}
}

// readChunk reads keys[pos...] with one GetManyEach and reports each of
// them through done (see GetBatch).
func (c *Cache) readChunk(ctx context.Context, keys []string, pos []int, done func(i int, v []byte, found bool, err error)) {
	ks := make([]string, len(pos))
	for j, p := range pos {
		ks[j] = keys[p]
	}
	reported := make([]bool, len(pos))
	err := c.shards.GetManyEach(ctx, ks, func(j int, stored []byte) {
		v, ok, err := c.values.decodeValue(ks[j], stored)
		reported[j] = true
		done(pos[j], v, ok, err)
	})
	for j, p := range pos {
		if !reported[j] {
			done(p, nil, false, err) // err nil: missing
		}
	}
}

// nearBatch is GetBatch with a near-cache: hits at once, each miss read
// through it (nearRead) on its own goroutine.
func (c *Cache) nearBatch(ctx context.Context, keys []string, done func(i int, v []byte, found bool, err error)) {
	var run concurrently
	for i, k := range keys {
		if v, ok := c.near.Get(k); ok {
			done(i, v, true, nil)
			continue
		}
		run.spawn(func() {
			v, ok, err := c.nearRead(ctx, k)
			done(i, v, ok, err)
		})
	}
	run.wait()
}
