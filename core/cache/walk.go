package cache

import (
	"bytes"
	"context"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/herd"
)

// Scan runs one SCAN step on walk target number target (every server in
// mode ring, the primary in mode primary, the first server in mode copy:
// shard.Cache.IterTargets) and returns the matching keys and the next
// cursor (0: done); false when there is no such target. count <= 0: the
// configured scan count.
func (c *Cache) Scan(ctx context.Context, target int, cursor uint64, pattern string, count int) ([]string, uint64, bool, error) {
	targets := c.shards.IterTargets()
	if target < 0 || target >= len(targets) {
		return nil, 0, false, nil
	}
	keys, next, err := c.shards.Server(targets[target]).Scan(ctx, cursor, pattern, count)
	return keys, next, true, err
}

// DeletePattern deletes the keys matching a glob pattern, SCAN + UNLINK in
// batches of count, on every scan target concurrently, and returns how
// many (in mode copy: on the first server).
func (c *Cache) DeletePattern(ctx context.Context, pattern string, count int) (int64, error) {
	n, err := c.shards.DeletePattern(ctx, pattern, count)
	c.forgetAll()
	return n, err
}

// Reinsert re-encodes every string value matching a glob pattern with the
// cache's codec (decoded first as Get does), keeping each key's TTL, and
// returns how many values changed; a value already in the current form,
// or one that does not decode, is left alone.
func (c *Cache) Reinsert(ctx context.Context, pattern string, count int) (int64, error) {
	n, err := c.shards.Each(ctx, "REINSERT", func(s *client.Client) (int64, error) {
		var done int64
		var cursor uint64
		for {
			keys, next, err := s.Scan(ctx, cursor, pattern, count)
			if err != nil {
				return done, err
			}
			n, err := c.reinsertKeys(ctx, s, keys)
			done += n
			if err != nil || next == 0 {
				return done, err
			}
			cursor = next
		}
	})
	c.forgetAll()
	return n, err
}

// reinsertKeys re-encodes the string values of keys on s (see Reinsert).
func (c *Cache) reinsertKeys(ctx context.Context, s *client.Client, keys []string) (int64, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	entries, err := s.Dump(ctx, keys)
	if err != nil {
		return 0, err
	}
	changed := entries[:0]
	var retag []client.Swap // get-or-set's tags follow their values' new bytes
	for _, en := range entries {
		v, ok, err := c.values.recode(en.Key, en.Value)
		if err != nil {
			return 0, err
		}
		if ok && !bytes.Equal(v, en.Value) {
			retag = append(retag, client.Swap{Key: herd.TagKey(en.Key), Old: herd.Tag(en.Value), New: herd.Tag(v)})
			en.Value = v
			changed = append(changed, en)
		}
	}
	if err := s.Restore(ctx, changed); err != nil {
		return 0, err
	}
	if _, err := s.SwapIfEqual(ctx, retag); err != nil {
		return int64(len(changed)), err
	}
	return int64(len(changed)), nil
}

// Walk is what WalkStep does with the keys it finds.
type Walk int

const (
	// WalkCount counts the keys.
	WalkCount Walk = iota
	// WalkDelete unlinks them.
	WalkDelete
	// WalkReinsert re-encodes their values as Reinsert does.
	WalkReinsert
)

// Step is the outcome of one WalkStep.
type Step struct {
	// Found is how many keys the SCAN step found.
	Found int64
	// Done is how many of them were counted, deleted or rewritten.
	Done int64
	// Next is the next cursor (0: this target is done).
	Next uint64
}

// WalkStep is one step of a key walk, for callers that report progress:
// one SCAN step on scan target number target (every server in modes ring
// and copy, the primary in mode primary: the targets of DeletePattern and
// Reinsert), then w on the keys found; false when there is no such target.
// count <= 0: the configured scan count.
func (c *Cache) WalkStep(ctx context.Context, w Walk, target int, cursor uint64, pattern string, count int) (Step, bool, error) {
	targets := c.shards.ScanTargets()
	if target < 0 || target >= len(targets) {
		return Step{}, false, nil
	}
	s := c.shards.Server(targets[target])
	keys, next, err := s.Scan(ctx, cursor, pattern, count)
	if err != nil {
		return Step{}, true, err
	}
	st := Step{Found: int64(len(keys)), Done: int64(len(keys)), Next: next}
	switch {
	case len(keys) == 0 || w == WalkCount:
	case w == WalkDelete:
		st.Done, err = s.Unlink(ctx, keys)
		c.forget(keys...)
	case w == WalkReinsert:
		st.Done, err = c.reinsertKeys(ctx, s, keys)
		c.forget(keys...)
	}
	return st, true, err
}
