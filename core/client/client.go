// Package client is the cache-shaped Redis client for one server that the
// rest of redis-cache-go (the C library, and Go services) builds on.
//
// Keys and values are opaque: the caller makes Django keys and encodes
// values (plain ints as decimal ASCII, everything else serialized), so a Go
// program reads exactly what a Django site wrote:
//
//	c, err := client.New(client.Options{Addr: "127.0.0.1:6379", DB: 1})
//	raw, found, err := c.Get(ctx, ":1:greeting")
//
// A miss is reported by a false "found" result, never as an error. Every
// error is an *Error whose Kind says what went wrong and whose message names
// the server (never its password). Every call is bounded by the timeouts in
// Options; nothing retries silently past them, except that a command whose
// pooled connection the server had closed goes out once more on another
// when it cannot apply twice (core/retry).
package client

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/redis-cache-go/redis-cache-go/core/breaker"
	"github.com/redis-cache-go/redis-cache-go/core/expiry"
	"github.com/redis-cache-go/redis-cache-go/core/stats"
	"github.com/redis-cache-go/redis-cache-go/core/wire"
)

// NoExpiry is the TTL reported for a key that exists without an expiry.
const NoExpiry time.Duration = -1

// Client is a connection pool to one Redis server with cache operations.
// It is safe for concurrent use. Close releases its connections.
type Client struct {
	rdb       redis.UniversalClient
	split     bool   // Redis Cluster: multi-key commands go one key per command (see cluster.go)
	masters   bool   // several nodes: walks (SCAN, FLUSHDB) visit every primary (see cluster.go)
	reload    func() // Redis Cluster: asks go-redis to refresh the slot map after a failure
	name      string // Options.String(), used in error messages
	user      string // Options.Username, named in authentication errors
	scanCount int
	stats     *stats.Server    // every command's latency and outcome, hits and misses (statshook.go)
	wire      *wire.Pool       // raw connections for the hot commands (wire.go); nil: go-redis only
	wireT     *wire.Pool       // wire's view for calls from C threads (wire.OnThread)
	brk       *breaker.Breaker // the circuit breaker shared by go-redis and wire
	direct    bool             // a Cluster node from NodeForKey: no hook counts its commands, they count themselves
}

// New returns a Client for the server described by opts. It does not
// connect: the first operation dials, so New never blocks or fails on the
// network.
func New(opts Options) *Client {
	o := opts.withDefaults()
	if o.Topology != nil {
		return newTopology(o)
	}
	rdb := redis.NewClient(&redis.Options{
		Network:         o.Network,
		Addr:            o.Addr,
		DB:              o.DB,
		Username:        o.Username,
		Password:        o.Password,
		TLSConfig:       o.TLS,
		Dialer:          guardedDialer(o.DialTimeout, o.TLS),
		DialTimeout:     o.DialTimeout,
		ReadTimeout:     o.ReadTimeout,
		WriteTimeout:    o.WriteTimeout,
		PoolSize:        o.PoolSize,
		PoolTimeout:     o.PoolTimeout,
		ConnMaxIdleTime: o.ConnMaxIdleTime,
		// A cache call is bounded by its timeouts: no hidden retries that
		// multiply them, one dial attempt per call.
		MaxRetries:    -1,
		DialerRetries: 1,
		// RESP2 and no handshake extras: works with every Redis since 2.6,
		// and a connect costs at most AUTH + SELECT.
		Protocol:                 2,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	brk := breaker.New(breaker.Options{Failures: o.BreakerFailures, Cooldown: o.BreakerCooldown})
	rdb.AddHook(statsHook{o.Stats}) // first: outermost, sees the breaker's refusals
	rdb.AddHook(breakerHook{brk})
	rdb.AddHook(resendHook{maxUnsent: o.PoolSize}) // inside the breaker: it counts the last try only
	c := &Client{rdb: rdb, name: o.String(), user: o.Username, scanCount: o.ScanCount, stats: o.Stats,
		wire: newWire(o), brk: brk}
	if c.wire != nil {
		c.wireT = c.wire.ForThreads()
	}
	return c
}

// String describes the server without credentials.
func (c *Client) String() string { return c.name }

// Close closes every connection. Later calls fail with KindClosed.
func (c *Client) Close() error {
	if c.wire != nil {
		_ = c.wire.Close()
	}
	return c.wrap("CLOSE", c.rdb.Close())
}

// Ping checks that the server answers.
func (c *Client) Ping(ctx context.Context) error {
	return c.wrap("PING", c.rdb.Ping(ctx).Err())
}

// Get returns the value stored at key; found is false when the key is
// missing.
func (c *Client) Get(ctx context.Context, key string) (value []byte, found bool, err error) {
	if c.wire != nil {
		return c.wireGet(ctx, key)
	}
	v, err := c.rdb.Get(ctx, key).Bytes()
	if err == redis.Nil {
		c.stats.Lookup(false)
		return nil, false, nil
	}
	if err != nil {
		return nil, false, c.wrap("GET", err)
	}
	c.stats.Lookup(true)
	return v, true, nil
}

// Set stores value at key. ttl > 0 expires the key after ttl; ttl <= 0
// stores it without expiry; a ttl past expiry.MaxMS is a KindArgument error
// and nothing is sent. With onlyIfMissing (SET NX) an existing key is left
// alone and stored is false.
func (c *Client) Set(ctx context.Context, key string, value []byte, ttl expiry.TTL, onlyIfMissing bool) (stored bool, err error) {
	op := "SET"
	if onlyIfMissing {
		op = "SET NX"
	}
	if err := c.checkTTL(op, ttl); err != nil {
		return false, err
	}
	if ttl < 0 {
		ttl = 0
	}
	if c.wire != nil {
		return c.wireSet(ctx, key, value, ttl, onlyIfMissing)
	}
	return c.setCmd(ctx, op, key, value, ttl, onlyIfMissing)
}

// setCmd runs SET key value [PX ttl] [NX] through go-redis (its Set and
// SetNX take a time.Duration, which cannot hold every TTL): stored is false
// when NX found the key.
func (c *Client) setCmd(ctx context.Context, op, key string, value any, ttl expiry.TTL, nx bool) (stored bool, err error) {
	err = c.rdb.Do(ctx, setArgs(key, value, ttl, nx)...).Err()
	if err == redis.Nil {
		return false, nil
	}
	return err == nil, c.wrap(op, err)
}

// setArgs is SET key value [PX ttl] [NX] as go-redis command arguments.
func setArgs(key string, value any, ttl expiry.TTL, nx bool) []any {
	args := []any{"set", key, value}
	if ttl > 0 {
		args = append(args, "px", int64(ttl))
	}
	if nx {
		args = append(args, "nx")
	}
	return args
}

// checkTTL is the KindArgument error for a ttl Redis would not store as
// given (past expiry.MaxMS), or nil.
func (c *Client) checkTTL(op string, ttl expiry.TTL) error {
	if err := ttl.Check(); err != nil {
		return &Error{Kind: KindArgument, Server: c.name, Op: op, Err: err}
	}
	return nil
}

// Delete removes key and reports whether it existed.
func (c *Client) Delete(ctx context.Context, key string) (deleted bool, err error) {
	if c.wire != nil {
		return c.wireBool(ctx, "DEL", key)
	}
	n, err := c.rdb.Del(ctx, key).Result()
	return n > 0, c.wrap("DEL", err)
}

// Exists reports whether key exists.
func (c *Client) Exists(ctx context.Context, key string) (bool, error) {
	if c.wire != nil {
		return c.wireBool(ctx, "EXISTS", key)
	}
	n, err := c.rdb.Exists(ctx, key).Result()
	return n > 0, c.wrap("EXISTS", err)
}

// Expire sets the key's time to live and reports whether the key exists.
// A ttl <= 0 deletes the key, as Redis does; a ttl past expiry.MaxMS is a
// KindArgument error and nothing is sent.
func (c *Client) Expire(ctx context.Context, key string, ttl expiry.TTL) (found bool, err error) {
	if err := c.checkTTL("PEXPIRE", ttl); err != nil {
		return false, err
	}
	if ttl <= 0 {
		return c.Delete(ctx, key)
	}
	ok, err := c.rdb.Do(ctx, "pexpire", key, int64(ttl)).Bool()
	return ok, c.wrap("PEXPIRE", err)
}

// Persist removes the key's expiry and reports whether the key exists.
// A key that exists without an expiry reports true.
func (c *Client) Persist(ctx context.Context, key string) (found bool, err error) {
	// PERSIST answers 0 both for a missing key and for a key without
	// expiry; EXISTS in the same round trip tells them apart.
	var persist *redis.BoolCmd
	var exists *redis.IntCmd
	_, err = c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		persist = p.Persist(ctx, key)
		exists = p.Exists(ctx, key)
		return nil
	})
	if err != nil {
		return false, c.wrap("PERSIST", err)
	}
	return persist.Val() || exists.Val() > 0, nil
}

// TTL returns the key's remaining time to live, -1 for a key without
// expiry, and found false for a missing key.
func (c *Client) TTL(ctx context.Context, key string) (ttl expiry.TTL, found bool, err error) {
	ms, err := c.rdb.Do(ctx, "pttl", key).Int64() // go-redis' PTTL converts to a time.Duration
	if err != nil {
		return 0, false, c.wrap("PTTL", err)
	}
	switch {
	case ms == -2:
		return 0, false, nil
	case ms < 0:
		return -1, true, nil
	}
	return expiry.TTL(ms), true, nil
}

// incrScript adds to an existing key only, atomically, keeping its TTL;
// it answers nil for a missing key.
const incrSource = `if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('INCRBY', KEYS[1], ARGV[1])
end
return false`

var incrScript = redis.NewScript(incrSource)

// Incr adds delta to the integer at key atomically and returns the new
// value. A missing key is not created: found is false. A value that is not
// an integer is a KindServer error. The key's TTL is kept.
func (c *Client) Incr(ctx context.Context, key string, delta int64) (value int64, found bool, err error) {
	if c.wire != nil {
		return c.wireIncr(ctx, key, delta)
	}
	v, err := incrScript.Run(ctx, c.rdb, []string{key}, delta).Int64()
	if err == redis.Nil {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, c.wrap("INCRBY", err)
	}
	return v, true, nil
}

// Rename moves src to dst atomically, keeping value and TTL and replacing
// dst. found is false when src is missing (nothing changes).
func (c *Client) Rename(ctx context.Context, src, dst string) (found bool, err error) {
	if c.split {
		return c.renameSplit(ctx, src, dst)
	}
	err = c.rdb.Rename(ctx, src, dst).Err()
	if err != nil && isNoSuchKey(err) {
		return false, nil
	}
	return err == nil, c.wrap("RENAME", err)
}

func isNoSuchKey(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && re.Error() == "ERR no such key"
}

// GetMany returns the values of keys in one round trip (MGET), aligned with
// keys; a missing key is a nil entry (an empty value is a non-nil empty
// slice).
func (c *Client) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	if c.split {
		return c.getManySplit(ctx, keys)
	}
	if c.wire != nil {
		return c.wireMGet(ctx, keys)
	}
	vals, err := c.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, c.wrap("MGET", err)
	}
	hits := 0
	for i, v := range vals {
		if s, ok := v.(string); ok {
			out[i] = append(make([]byte, 0, len(s)), s...)
			hits++
		}
	}
	c.stats.Lookups(hits, len(keys)-hits)
	return out, nil
}

// GetManyEach is GetMany calling each(i, v) for every value found, in key
// order, instead of returning the values (a missing key gets no call). v is
// valid only during that call (on the raw path it aliases the connection's
// read buffer). On error, calls already made are to be discarded.
func (c *Client) GetManyEach(ctx context.Context, keys []string, each func(i int, v []byte)) error {
	if len(keys) == 0 {
		return nil
	}
	if c.wire != nil && !c.split {
		return c.wireMGetEach(ctx, keys, each)
	}
	vals, err := c.GetMany(ctx, keys)
	if err != nil {
		return err
	}
	EachFound(vals, each)
	return nil
}

// EachFound calls each(i, v) for every value of vals that is not nil (a
// missing key), in order.
func EachFound(vals [][]byte, each func(i int, v []byte)) {
	for i, v := range vals {
		if v != nil {
			each(i, v)
		}
	}
}

// SetMany stores every keys[i] = values[i] in one pipeline (one round trip),
// each with ttl as in Set. keys and values must have the same length.
func (c *Client) SetMany(ctx context.Context, keys []string, values [][]byte, ttl expiry.TTL) error {
	if len(keys) != len(values) {
		return &Error{Kind: KindArgument, Server: c.name, Op: "SET", Err: errors.New("keys and values differ in length")}
	}
	if err := c.checkTTL("SET", ttl); err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	if ttl < 0 {
		ttl = 0
	}
	if c.wire != nil {
		return c.wireSetMany(ctx, keys, values, ttl)
	}
	cmds, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			p.Do(ctx, setArgs(k, values[i], ttl, false)...)
		}
		return nil
	})
	if err != nil {
		return c.wrap("SET", firstErr(cmds, err))
	}
	return nil
}

// DeleteMany removes keys in one command and returns how many existed.
func (c *Client) DeleteMany(ctx context.Context, keys []string) (int64, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	if c.split {
		return c.countSplit(ctx, "DEL", keys)
	}
	if c.wire != nil {
		return c.wireDelMany(ctx, keys)
	}
	n, err := c.rdb.Del(ctx, keys...).Result()
	return n, c.wrap("DEL", err)
}

// Clear deletes the keys matching the glob pattern, walking the keyspace
// with SCAN and deleting in UNLINK batches of Options.ScanCount, and returns
// how many it deleted. An empty pattern empties the whole database
// (FLUSHDB) and returns -1, as the count is unknown.
func (c *Client) Clear(ctx context.Context, pattern string) (int64, error) {
	if c.masters {
		return c.clearMasters(ctx, pattern)
	}
	if pattern == "" {
		return -1, c.wrap("FLUSHDB", c.rdb.FlushDB(ctx).Err())
	}
	var deleted int64
	var cursor uint64
	batch := make([]string, 0, c.scanCount)
	for {
		keys, next, err := c.rdb.Scan(ctx, cursor, pattern, int64(c.scanCount)).Result()
		if err != nil {
			return deleted, c.wrap("SCAN", err)
		}
		batch = append(batch, keys...)
		if len(batch) >= c.scanCount || (next == 0 && len(batch) > 0) {
			n, err := c.unlink(ctx, batch)
			if err != nil {
				return deleted, c.wrap("UNLINK", err)
			}
			deleted += n
			batch = batch[:0]
		}
		if next == 0 {
			return deleted, nil
		}
		cursor = next
	}
}

func firstErr(cmds []redis.Cmder, err error) error {
	for _, c := range cmds {
		if e := c.Err(); e != nil {
			return e
		}
	}
	return err
}
