package client

import (
	"context"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/stats"

	"github.com/redis-cache-go/redis-cache-go/core/expiry"
	"github.com/redis-cache-go/redis-cache-go/core/wire"
)

// The hot single-key commands and the one-server batches of a plain
// TCP/unix Client go through core/wire (raw connections, no network
// poller); TLS, Cluster and Sentinel Clients, and every other command, use
// go-redis. Both share the Client's circuit breaker and error kinds.

// newWire returns the raw pool for o, or nil when o needs go-redis (TLS).
func newWire(o Options) *wire.Pool {
	if o.TLS != nil || o.Topology != nil {
		return nil
	}
	return wire.New(wire.Options{
		Network:      o.Network,
		Addr:         o.Addr,
		DB:           o.DB,
		Username:     o.Username,
		Password:     o.Password,
		DialTimeout:  o.DialTimeout,
		ReadTimeout:  o.ReadTimeout,
		WriteTimeout: o.WriteTimeout,
		MaxConns:     o.PoolSize,
	})
}

// wireDone records a raw call's outcome in the breaker and the stats (as
// statsHook does for go-redis: latency from start, the outcome) and wraps
// its error.
func (c *Client) wireDone(op string, sop stats.Op, start time.Duration, err error) error {
	c.stats.ObserveSince(sop, start, Outcome(err))
	if err == nil {
		c.brk.Record(false)
		return nil
	}
	k := classify(err)
	c.brk.Record(k == KindConnection || k == KindTimeout)
	return c.wrap(op, err)
}

// wireRefused reports a call the open breaker refused (a connection error
// in the stats, as with go-redis).
func (c *Client) wireRefused(op string, sop stats.Op, start time.Duration, err error) error {
	c.stats.ObserveSince(sop, start, stats.ErrConnection)
	return c.wrap(op, err)
}

// pool returns the raw pool for a call with ctx: its ForThreads view for a
// call from a C thread (wire.OnThread).
func (c *Client) pool(ctx context.Context) *wire.Pool {
	if wire.IsOnThread(ctx) {
		return c.wireT
	}
	return c.wire
}

func (c *Client) wireGet(ctx context.Context, key string) ([]byte, bool, error) {
	start := stats.Now()
	if err := c.brk.Allow(); err != nil {
		return nil, false, c.wireRefused("GET", stats.OpGet, start, err)
	}
	v, ok, err := c.pool(ctx).Get(key)
	if err == nil {
		c.stats.Lookup(ok)
	}
	return v, ok, c.wireDone("GET", stats.OpGet, start, err)
}

// wireGetTTL is GetTTL as one pipeline of GET and PTTL over core/wire,
// counted as the go-redis pipeline is (one pipeline, no lookup).
func (c *Client) wireGetTTL(ctx context.Context, key string) ([]byte, time.Duration, bool, error) {
	start := stats.Now()
	if err := c.brk.Allow(); err != nil {
		return nil, 0, false, c.wireRefused("GET", stats.OpPipeline, start, err)
	}
	v, pttl, ok, err := c.pool(ctx).GetTTL(key)
	if err = c.wireDone("GET", stats.OpPipeline, start, err); err != nil || !ok {
		return nil, 0, false, err
	}
	return v, ttlOf(pttl), true, nil
}

func (c *Client) wireSet(ctx context.Context, key string, value []byte, ttl expiry.TTL, nx bool) (bool, error) {
	op := "SET"
	if nx {
		op = "SET NX"
	}
	start := stats.Now()
	if err := c.brk.Allow(); err != nil {
		return false, c.wireRefused(op, stats.OpSet, start, err)
	}
	ok, err := c.pool(ctx).Set(key, value, ttl, nx)
	return ok, c.wireDone(op, stats.OpSet, start, err)
}

// wireBool runs a raw DEL or EXISTS.
func (c *Client) wireBool(ctx context.Context, op string, key string) (bool, error) {
	p := c.pool(ctx)
	f := p.Del
	if op == "EXISTS" {
		f = p.Exists
	}
	sop := stats.OpOf(op)
	start := stats.Now()
	if err := c.brk.Allow(); err != nil {
		return false, c.wireRefused(op, sop, start, err)
	}
	ok, err := f(key)
	return ok, c.wireDone(op, sop, start, err)
}

var wireIncr = wire.NewScript(incrSource)

func (c *Client) wireIncr(ctx context.Context, key string, delta int64) (int64, bool, error) {
	start := stats.Now()
	if err := c.brk.Allow(); err != nil {
		return 0, false, c.wireRefused("INCRBY", stats.OpScript, start, err)
	}
	v, ok, err := c.pool(ctx).EvalInt(wireIncr, key, delta)
	return v, ok, c.wireDone("INCRBY", stats.OpScript, start, err)
}

func (c *Client) wireMGet(ctx context.Context, keys []string) ([][]byte, error) {
	start := stats.Now()
	if err := c.brk.Allow(); err != nil {
		return nil, c.wireRefused("MGET", stats.OpGetMany, start, err)
	}
	v, err := c.pool(ctx).MGet(keys)
	if err == nil {
		hits := 0
		for _, x := range v {
			if x != nil {
				hits++
			}
		}
		c.stats.Lookups(hits, len(keys)-hits)
	}
	return v, c.wireDone("MGET", stats.OpGetMany, start, err)
}

func (c *Client) wireMGetEach(ctx context.Context, keys []string, each func(i int, v []byte)) error {
	start := stats.Now()
	if err := c.brk.Allow(); err != nil {
		return c.wireRefused("MGET", stats.OpGetMany, start, err)
	}
	hits := 0
	err := c.pool(ctx).MGetEach(keys, func(i int, v []byte) {
		hits++
		each(i, v)
	})
	if err == nil {
		c.stats.Lookups(hits, len(keys)-hits)
	}
	return c.wireDone("MGET", stats.OpGetMany, start, err)
}

// wireSetMany counts as the go-redis path does: one pipeline (a single
// MSET without a TTL counts as one "other" command).
func (c *Client) wireSetMany(ctx context.Context, keys []string, values [][]byte, ttl expiry.TTL) error {
	sop := stats.OpPipeline
	if ttl <= 0 {
		sop = stats.OpOf("MSET")
	}
	start := stats.Now()
	if err := c.brk.Allow(); err != nil {
		return c.wireRefused("SET", sop, start, err)
	}
	return c.wireDone("SET", sop, start, c.pool(ctx).SetMany(keys, values, ttl))
}

func (c *Client) wireDelMany(ctx context.Context, keys []string) (int64, error) {
	start := stats.Now()
	if err := c.brk.Allow(); err != nil {
		return 0, c.wireRefused("DEL", stats.OpDelete, start, err)
	}
	n, err := c.pool(ctx).DelMany(keys)
	return n, c.wireDone("DEL", stats.OpDelete, start, err)
}
