package main

/*
#include "redis_cache_go.h"
*/
import "C"

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/nearcache"
	"github.com/redis-cache-go/redis-cache-go/core/shard"
)

// localCacheConfig is the document's "local_cache" object (OPTIONS
// LOCAL_CACHE, validated by the Python package): zero values mean the
// nearcache defaults.
type localCacheConfig struct {
	MaxEntries int     `json:"max_entries"`
	MaxBytes   int64   `json:"max_bytes"`
	TTL        float64 `json:"ttl"`    // seconds
	Prefix     string  `json:"prefix"` // the key space tracked and cached
}

// nearOf builds the near-cache a document asks for, or nil.
func nearOf(doc []byte, opts shard.Options) (*nearcache.Cache, error) {
	var d struct {
		LocalCache *localCacheConfig `json:"local_cache"`
		Topology   json.RawMessage   `json:"topology"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("invalid configuration document: %w", err)
	}
	lc := d.LocalCache
	if lc == nil {
		return nil, nil
	}
	if len(opts.Servers) != 1 || opts.Servers[0].Topology != nil {
		return nil, errors.New("local_cache needs exactly one server (no ring, copy, primary, cluster or sentinel layout)")
	}
	if lc.MaxEntries < 0 || lc.MaxBytes < 0 || lc.TTL < 0 {
		return nil, fmt.Errorf("local_cache max_entries, max_bytes and ttl must be >= 0")
	}
	s := opts.Servers[0]
	return nearcache.New(nearcache.Options{
		MaxEntries:  lc.MaxEntries,
		MaxBytes:    lc.MaxBytes,
		TTL:         time.Duration(lc.TTL * float64(time.Second)),
		Prefix:      lc.Prefix,
		Network:     s.Network,
		Addr:        s.Addr,
		Username:    s.Username,
		Password:    s.Password,
		TLS:         s.TLS,
		DialTimeout: s.DialTimeout,
		ReadTimeout: s.ReadTimeout,
	}), nil
}

// forget drops keys this handle just wrote from its near-cache (the push
// from Redis follows; this gives read-your-writes at once).
func (e *entry) forget(keys ...string) {
	if e.near != nil {
		e.near.Invalidate(keys...)
	}
}

// forgetAll empties the near-cache after a write whose keys are not known
// (clear, delete_pattern, reinsert).
func (e *entry) forgetAll() {
	if e.near != nil {
		e.near.Flush()
	}
}

// nearGet serves rcg_get through the near-cache.
func nearGet(e *entry, out *C.rcg_out, key string) C.int {
	v, ok, err := nearRead(e, key)
	if err != nil {
		return fail(out, err)
	}
	if !ok {
		return C.RCG_MISS
	}
	putBytes(out, v)
	return C.RCG_OK
}

// nearRead is a GET through the near-cache: a hit is the cached value (the
// caller copies it and never modifies it); a miss fetches GET + PTTL in one
// round trip and fills the cache with the decoded value unless the key
// changed meanwhile.
func nearRead(e *entry, key string) ([]byte, bool, error) {
	if v, ok := e.near.Get(key); ok {
		return v, true, nil
	}
	t := e.near.Begin(key)
	if !t.OK() { // tracking not confirmed: a plain GET, nothing is kept
		v, ok, err := e.cache.Get(bg, key)
		if err != nil || !ok {
			return nil, false, err
		}
		return e.codec.decodeValue(v), true, nil
	}
	v, ttl, ok, err := e.cache.Server(0).GetTTL(bg, key)
	if err != nil || !ok {
		return nil, false, err
	}
	v = e.codec.decodeValue(v)
	e.near.Fill(t, key, v, ttl)
	return v, true, nil
}

// nearGetMany is GetMany through the near-cache; values come back decoded.
func nearGetMany(e *entry, keys []string) ([][]byte, error) {
	vals := make([][]byte, len(keys))
	var missing []int
	for i, k := range keys {
		if v, ok := e.near.Get(k); ok {
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
		tickets[j] = e.near.Begin(keys[i])
		tracked = tracked || tickets[j].OK()
	}
	var got [][]byte
	var ttls []time.Duration
	var err error
	if tracked {
		got, ttls, err = e.cache.Server(0).GetManyTTL(bg, miss)
	} else {
		got, err = e.cache.GetMany(bg, miss)
	}
	if err != nil {
		return nil, err
	}
	for j, i := range missing {
		if got[j] == nil {
			continue
		}
		vals[i] = e.codec.decodeValue(got[j])
		if tracked {
			e.near.Fill(tickets[j], miss[j], vals[i], ttls[j])
		}
	}
	return vals, nil
}

// rcgx_near_stats writes the handle's near-cache counters as
// "hits=N misses=N …" (nearcache.Stats.String); RCG_MISS when the handle
// has no near-cache.
//
//export rcgx_near_stats
func rcgx_near_stats(h C.uintptr_t, out *C.rcg_out) (status C.int) {
	defer guard(h, out, &status)
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	if e.near == nil {
		return C.RCG_MISS
	}
	putBytes(out, []byte(e.near.Stats().String()))
	return C.RCG_OK
}
