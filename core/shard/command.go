package shard

import (
	"context"
	"strings"

	"github.com/redis-cache-go/redis-cache-go/core/client"
)

// Reply is one server's answer to a command: a value as client.Client.Do
// returns it, or the error that server gave.
type Reply struct {
	Value any
	Err   error
}

// readOnly lists the commands Do treats as reads: routed like Get (to a
// replica in Mode Primary, to one server with fallback in Mode Copy). Every
// other command is a write.
var readOnly = map[string]bool{}

func init() {
	for _, name := range strings.Fields(`GET MGET GETRANGE SUBSTR STRLEN EXISTS TYPE TTL PTTL EXPIRETIME PEXPIRETIME
		DUMP OBJECT BITCOUNT BITPOS GETBIT LCS
		HGET HMGET HGETALL HKEYS HVALS HLEN HEXISTS HSTRLEN HRANDFIELD HSCAN
		LRANGE LLEN LINDEX LPOS
		SMEMBERS SISMEMBER SMISMEMBER SCARD SRANDMEMBER SINTER SINTERCARD SUNION SDIFF SSCAN
		ZRANGE ZRANGEBYSCORE ZREVRANGE ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX ZSCORE ZMSCORE
		ZCARD ZCOUNT ZLEXCOUNT ZRANK ZREVRANK ZRANDMEMBER ZSCAN ZINTER ZUNION ZDIFF ZINTERCARD
		PFCOUNT XRANGE XREVRANGE XLEN GEOPOS GEODIST GEOHASH GEOSEARCH`) {
		readOnly[name] = true
	}
}

// IsRead reports whether Do routes the named command as a read.
func IsRead(name string) bool { return readOnly[strings.ToUpper(name)] }

// Do runs one Redis command (args[0] is its name) about key, the caller's
// raw key (no prefix is added), routed like the cache operations: in Mode
// Ring to key's server; in Mode Primary writes to the primary and reads
// (IsRead) to a replica; in Mode Copy reads to one server with fallback,
// and writes to every server concurrently, answered with one Reply per
// server in LOCATION order (perServer true). Any other call answers one
// Reply. An error reply or an unreachable server is returned as err too
// (an *Error naming each failed server when several were involved).
func (c *Cache) Do(ctx context.Context, key string, args ...any) (replies []Reply, perServer bool, err error) {
	if len(args) == 0 {
		_, err := c.servers[0].Do(ctx)
		return nil, false, err
	}
	name, _ := args[0].(string)
	if IsRead(name) {
		v, err := readOne(c, c.readOrder(key), func(s *client.Client) (any, error) { return s.Do(ctx, args...) })
		return []Reply{{Value: v, Err: err}}, false, err
	}
	targets := c.writeTargets(key)
	vals, ok, err := fanOut(c, strings.ToUpper(name), targets, func(_ int, s *client.Client) (any, error) {
		return s.Do(ctx, args...)
	})
	replies = make([]Reply, len(targets))
	var failures []error
	if e, isShard := err.(*Error); isShard {
		failures = e.Failed
	}
	for k := range targets {
		replies[k].Value = vals[k]
		if !ok[k] {
			if len(targets) == 1 {
				replies[k].Err = err
			} else if len(failures) > 0 {
				replies[k].Err, failures = failures[0], failures[1:]
			}
		}
	}
	return replies, c.mode == Copy, err
}
