package main

/*
#include "redis_cache_go.h"
*/
import "C"

import (
	"bytes"
	"context"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/herd"
	"github.com/redis-cache-go/redis-cache-go/core/lock"
	"github.com/redis-cache-go/redis-cache-go/core/shard"
)

//export rcgx_lock_acquire
func rcgx_lock_acquire(h C.uintptr_t, out *C.rcg_out, key *C.uint8_t, klen C.size_t, ttlMS, sleepMS, waitMS C.int64_t, flags C.int) (status C.int) {
	defer guard(h, out, &status)
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	token := lock.NewToken()
	ok, err := lock.Acquire(bg, e.cache, borrowedString(key, klen), token, lock.Options{
		TTL: ttl(ttlMS), Sleep: waitOf(sleepMS), Wait: waitOf(waitMS), Blocking: flags&C.RCG_LOCK_BLOCKING != 0,
	})
	if err != nil {
		return fail(out, err)
	}
	if !ok {
		return C.RCG_MISS
	}
	putBytes(out, []byte(token))
	return C.RCG_OK
}

//export rcgx_lock_release
func rcgx_lock_release(h C.uintptr_t, out *C.rcg_out, k *C.uint8_t, klen C.size_t, tok *C.uint8_t, tlen C.size_t) (status C.int) {
	defer guard(h, out, &status)
	key, token := borrowedString(k, klen), borrowedString(tok, tlen)
	return boolOp(h, out, func(c *shard.Cache) (bool, error) { return c.ReleaseLock(bg, key, token) })
}

//export rcgx_lock_extend
func rcgx_lock_extend(h C.uintptr_t, out *C.rcg_out, k *C.uint8_t, klen C.size_t, tok *C.uint8_t, tlen C.size_t, ttlMS C.int64_t, replace C.int) (status C.int) {
	defer guard(h, out, &status)
	key, token := borrowedString(k, klen), borrowedString(tok, tlen)
	return boolOp(h, out, func(c *shard.Cache) (bool, error) { return c.ExtendLock(bg, key, token, ttl(ttlMS), replace != 0) })
}

//export rcgx_lock_held
func rcgx_lock_held(h C.uintptr_t, out *C.rcg_out, k *C.uint8_t, klen C.size_t) (status C.int) {
	defer guard(h, out, &status)
	key := borrowedString(k, klen)
	return boolOp(h, out, func(c *shard.Cache) (bool, error) { return c.LockHeld(bg, key) })
}

//export rcgx_scan
func rcgx_scan(h C.uintptr_t, out *C.rcg_out, server C.int64_t, cursor C.int64_t, pattern *C.uint8_t, plen C.size_t, count C.int64_t) (status C.int) {
	defer guard(h, out, &status)
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	targets := e.cache.IterTargets()
	if server < 0 || int(server) >= len(targets) {
		return C.RCG_MISS
	}
	keys, next, err := e.cache.Server(targets[server]).Scan(bg, uint64(cursor), borrowedString(pattern, plen), int(count))
	if err != nil {
		return fail(out, err)
	}
	items := make([][]byte, len(keys))
	for i, k := range keys {
		items[i] = []byte(k)
	}
	putFrame(out, items)
	out.num = C.int64_t(next)
	return C.RCG_OK
}

//export rcgx_delete_pattern
func rcgx_delete_pattern(h C.uintptr_t, out *C.rcg_out, pattern *C.uint8_t, plen C.size_t, count C.int64_t) (status C.int) {
	defer guard(h, out, &status)
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	if plen == 0 {
		return argError(out, "delete_pattern needs a pattern")
	}
	n, err := e.cache.DeletePattern(bg, borrowedString(pattern, plen), int(count))
	e.forgetAll()
	if err != nil {
		return fail(out, err)
	}
	out.num = C.int64_t(n)
	return C.RCG_OK
}

//export rcgx_reinsert
func rcgx_reinsert(h C.uintptr_t, out *C.rcg_out, pattern *C.uint8_t, plen C.size_t, count C.int64_t) (status C.int) {
	defer guard(h, out, &status)
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	if plen == 0 {
		return argError(out, "reinsert needs a pattern")
	}
	pat := borrowedString(pattern, plen)
	n, err := e.cache.Each(bg, "REINSERT", func(s *client.Client) (int64, error) {
		return reinsert(bg, e.codec, s, pat, int(count))
	})
	e.forgetAll()
	if err != nil {
		return fail(out, err)
	}
	out.num = C.int64_t(n)
	return C.RCG_OK
}

// reinsert re-encodes every string key matching pattern on s with the
// handle's codec, keeping each key's TTL, and returns how many it rewrote
// (a value already in the current form is left alone).
func reinsert(ctx context.Context, vc *valueCodec, s *client.Client, pattern string, count int) (int64, error) {
	var done int64
	var cursor uint64
	for {
		keys, next, err := s.Scan(ctx, cursor, pattern, count)
		if err != nil {
			return done, err
		}
		n, err := reinsertKeys(ctx, vc, s, keys)
		done += n
		if err != nil {
			return done, err
		}
		if next == 0 {
			return done, nil
		}
		cursor = next
	}
}

// reinsertKeys re-encodes the string values of keys on s (see reinsert).
func reinsertKeys(ctx context.Context, vc *valueCodec, s *client.Client, keys []string) (int64, error) {
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
		v, ok, err := vc.recode(en.Value)
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
