package client

import (
	"context"
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/redis-cache-go/redis-cache-go/core/stats"
)

// statsHook reports every command and pipeline a Client sends through
// go-redis to the Client's stats.Server: latency end to end (including a
// pool wait and a dial) and outcome. It is the outermost hook, so calls
// refused by the circuit breaker count as connection errors. Hits and
// misses are counted by the read methods themselves (see Client.Get).
// A new connection's handshake (AUTH, SELECT, HELLO, CLIENT, READONLY)
// runs inside the command that dialled, so it is not counted on its own:
// the command's latency includes it, and a failed handshake fails (and
// counts) that command once.
type statsHook struct{ s *stats.Server }

func isHandshake(name string) bool {
	switch name {
	case "auth", "select", "hello", "client", "readonly":
		return true
	}
	return false
}

func (h statsHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h statsHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		name := cmd.Name()
		if isHandshake(name) {
			return next(ctx, cmd)
		}
		start := stats.Now()
		err := next(ctx, cmd)
		if err != nil && name == "evalsha" && isNoScript(err) {
			return err // go-redis sends EVAL next, which is counted: a step, not a failure
		}
		h.s.ObserveSince(stats.OpOf(name), start, Outcome(err))
		return err
	}
}

func (h statsHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && isHandshake(cmds[0].Name()) {
			return next(ctx, cmds)
		}
		start := stats.Now()
		err := next(ctx, cmds)
		h.s.ObserveSince(stats.OpPipeline, start, Outcome(err))
		return err
	}
}

func isNoScript(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "NOSCRIPT")
}

// Outcome classifies a command's error for stats.Server.Observe: nil and a
// nil reply (a miss) are stats.OK. Any transport may use it.
func Outcome(err error) stats.Outcome {
	if err == nil || err == redis.Nil {
		return stats.OK
	}
	switch classify(err) {
	case KindConnection:
		return stats.ErrConnection
	case KindTimeout:
		return stats.ErrTimeout
	case KindAuth:
		return stats.ErrAuth
	case KindServer:
		return stats.ErrServer
	}
	return stats.ErrOther
}

// Recorder returns the stats.Server this Client's commands are counted
// in; a transport that bypasses go-redis reports its commands there.
func (c *Client) Recorder() *stats.Server { return c.stats }

// Stats returns the Client's counters (see core/stats; shared with the
// other Clients of the same Options.Stats) with this Client's connection
// pool figures. It does not touch the network, except that a Redis Cluster
// client that has not loaded its slot map yet loads it.
func (c *Client) Stats() stats.Snapshot {
	snap := c.stats.Snapshot()
	snap.Server = c.name
	pool := c.PoolStats()
	snap.Pool = &pool
	return snap
}

// PoolStats returns the figures of the Client's connection pools: go-redis'
// (summed over the nodes of a Cluster) plus the raw hot path's (core/wire).
func (c *Client) PoolStats() stats.Pool {
	var out stats.Pool
	if c.wire != nil { // the raw hot path's connections (wire.go)
		ws := c.wire.Stats()
		out = stats.Pool{Hits: ws.Hits, Misses: ws.Misses, TotalConns: ws.TotalConns, IdleConns: ws.IdleConns, StaleConns: ws.StaleConns}
	}
	ps := c.rdb.PoolStats()
	if ps == nil {
		return out
	}
	return out.Add(stats.Pool{
		Hits: uint64(ps.Hits), Misses: uint64(ps.Misses), Timeouts: uint64(ps.Timeouts),
		WaitCount: uint64(ps.WaitCount), TotalConns: uint64(ps.TotalConns),
		IdleConns: uint64(ps.IdleConns), StaleConns: uint64(ps.StaleConns),
	})
}
