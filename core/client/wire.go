package client

import (
	"time"

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
		MaxIdle:      o.PoolSize,
	})
}

// wireDone records a raw call's outcome in the breaker and wraps its error.
func (c *Client) wireDone(op string, err error) error {
	if err == nil {
		c.brk.Record(false)
		return nil
	}
	k := classify(err)
	c.brk.Record(k == KindConnection || k == KindTimeout)
	return c.wrap(op, err)
}

func (c *Client) wireGet(key string) ([]byte, bool, error) {
	if err := c.brk.Allow(); err != nil {
		return nil, false, c.wrap("GET", err)
	}
	v, ok, err := c.wire.Get(key)
	return v, ok, c.wireDone("GET", err)
}

func (c *Client) wireSet(key string, value []byte, ttl time.Duration, nx bool) (bool, error) {
	op := "SET"
	if nx {
		op = "SET NX"
	}
	if err := c.brk.Allow(); err != nil {
		return false, c.wrap(op, err)
	}
	ok, err := c.wire.Set(key, value, ttl, nx)
	return ok, c.wireDone(op, err)
}

// wireBool runs a raw DEL or EXISTS.
func (c *Client) wireBool(op string, f func(string) (bool, error), key string) (bool, error) {
	if err := c.brk.Allow(); err != nil {
		return false, c.wrap(op, err)
	}
	ok, err := f(key)
	return ok, c.wireDone(op, err)
}

var wireIncr = wire.NewScript(incrSource)

func (c *Client) wireIncr(key string, delta int64) (int64, bool, error) {
	if err := c.brk.Allow(); err != nil {
		return 0, false, c.wrap("INCRBY", err)
	}
	v, ok, err := c.wire.EvalInt(wireIncr, key, delta)
	return v, ok, c.wireDone("INCRBY", err)
}

func (c *Client) wireMGet(keys []string) ([][]byte, error) {
	if err := c.brk.Allow(); err != nil {
		return nil, c.wrap("MGET", err)
	}
	v, err := c.wire.MGet(keys)
	return v, c.wireDone("MGET", err)
}

func (c *Client) wireSetMany(keys []string, values [][]byte, ttl time.Duration) error {
	if err := c.brk.Allow(); err != nil {
		return c.wrap("SET", err)
	}
	return c.wireDone("SET", c.wire.SetMany(keys, values, ttl))
}

func (c *Client) wireDelMany(keys []string) (int64, error) {
	if err := c.brk.Allow(); err != nil {
		return 0, c.wrap("DEL", err)
	}
	n, err := c.wire.DelMany(keys)
	return n, c.wireDone("DEL", err)
}
