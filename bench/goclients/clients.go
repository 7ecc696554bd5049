package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/wire"
)

// bg is the context of every call: no deadline and no Done channel, as the
// C library's calls have (rueidis takes a different path for a context
// that can be cancelled: see the README).
var bg = context.Background()

var errMiss = errors.New("key not found (the bench populates every key it reads)")

// getter is what the workloads need of a client: one GET, one MGET.
type getter interface {
	// get reads one key that exists and returns its value.
	get(key string) ([]byte, error)
	// mget reads keys in one MGET and returns how many were found.
	mget(keys []string) (int, error)
	close()
}

// kind is a client under test: a name and how to open one.
type kind struct {
	name string
	open func(addr string) (getter, error)
}

// Only the public API that stays when core/wire is rewritten is used here:
// wire.New(wire.Options{Addr}), Pool.Get, Pool.MGet, Pool.Close.
var kinds = []kind{
	{"core/wire", openWire},
	{"core/client", openClient},
	{"go-redis", openGoRedis},
	{"rueidis auto", func(addr string) (getter, error) { return openRueidis(addr, false) }},
	{"rueidis pool", func(addr string) (getter, error) { return openRueidis(addr, true) }},
}

const baseline = "core/wire" // ratios are against this client

// core/wire: the raw RESP2 pool, called directly.
type wireGetter struct{ p *wire.Pool }

func openWire(addr string) (getter, error) {
	return wireGetter{wire.New(wire.Options{Addr: addr})}, nil
}

func (w wireGetter) get(key string) ([]byte, error) {
	v, ok, err := w.p.Get(key)
	if err == nil && !ok {
		err = errMiss
	}
	return v, err
}

func (w wireGetter) mget(keys []string) (int, error) {
	vals, err := w.p.MGet(keys)
	return countFound(vals), err
}

func (w wireGetter) close() { _ = w.p.Close() }

// core/client: what the C library's handle calls for one plain server
// (breaker, stats, error kinds, then core/wire).
type clientGetter struct{ c *client.Client }

func openClient(addr string) (getter, error) {
	return clientGetter{client.New(client.Options{Addr: addr})}, nil
}

func (c clientGetter) get(key string) ([]byte, error) {
	v, ok, err := c.c.Get(bg, key)
	if err == nil && !ok {
		err = errMiss
	}
	return v, err
}

func (c clientGetter) mget(keys []string) (int, error) {
	vals, err := c.c.GetMany(bg, keys)
	return countFound(vals), err
}

func (c clientGetter) close() { _ = c.c.Close() }

func countFound(vals [][]byte) int {
	n := 0
	for _, v := range vals {
		if v != nil {
			n++
		}
	}
	return n
}

// go-redis v9 with its defaults (a pool of 10 connections per CPU, RESP3).
type goRedisGetter struct{ c *redis.Client }

func openGoRedis(addr string) (getter, error) {
	return goRedisGetter{redis.NewClient(&redis.Options{Addr: addr})}, nil
}

func (g goRedisGetter) get(key string) ([]byte, error) {
	v, err := g.c.Get(bg, key).Bytes()
	if err == redis.Nil {
		err = errMiss
	}
	return v, err
}

func (g goRedisGetter) mget(keys []string) (int, error) {
	vals, err := g.c.MGet(bg, keys...).Result()
	n := 0
	for _, v := range vals {
		if v != nil {
			n++
		}
	}
	return n, err
}

func (g goRedisGetter) close() { _ = g.c.Close() }

// rueidis with its defaults, auto-pipelining on (pool false), or with
// DisableAutoPipelining (pool true: each call takes a connection of the
// blocking pool for itself). ForceSingleClient skips the probe for a
// cluster; nothing else differs from a single-server client.
type rueidisGetter struct{ c rueidis.Client }

func newRueidis(addr string, pool bool) (rueidis.Client, error) {
	return rueidis.NewClient(rueidis.ClientOption{
		InitAddress:           []string{addr},
		ForceSingleClient:     true,
		DisableAutoPipelining: pool,
	})
}

func openRueidis(addr string, pool bool) (getter, error) {
	c, err := newRueidis(addr, pool)
	if err != nil {
		return nil, fmt.Errorf("rueidis: %w", err)
	}
	return rueidisGetter{c}, nil
}

func (r rueidisGetter) get(key string) ([]byte, error) {
	v, err := r.c.Do(bg, r.c.B().Get().Key(key).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		err = errMiss
	}
	return v, err
}

func (r rueidisGetter) mget(keys []string) (int, error) {
	msgs, err := r.c.Do(bg, r.c.B().Mget().Key(keys...).Build()).ToArray()
	n := 0
	for _, m := range msgs {
		if !m.IsNil() {
			n++
		}
	}
	return n, err
}

func (r rueidisGetter) close() { r.c.Close() }
