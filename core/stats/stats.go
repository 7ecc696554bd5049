// Package stats counts what a client sends to one Redis server: commands
// per operation, their outcomes, key lookups (hits and misses) and a
// fixed-bucket latency histogram from which percentiles are read.
//
// Recording is a handful of atomic adds on preallocated counters: no lock,
// no allocation, no time source of its own. Any transport (go-redis, a raw
// socket) reports a command with one call:
//
//	start := stats.Now()
//	err := send()
//	srv.ObserveSince(stats.OpGet, start, outcome(err))
//
// Counters only grow (since the Server was made); a reader takes a Snapshot
// at any time without stopping writers, so a snapshot taken during traffic
// may mix counts of a few in-flight commands.
package stats

import (
	"strings"
	"sync/atomic"
	"time"
)

// Op classifies a command for the per-operation call counts.
type Op uint8

// The operations counted separately; every other command is OpOther.
const (
	OpGet      Op = iota // GET, GETEX
	OpSet                // SET and its variants
	OpDelete             // DEL, UNLINK
	OpGetMany            // MGET
	OpPipeline           // a pipeline or transaction, counted once
	OpScan               // SCAN steps
	OpScript             // EVAL, EVALSHA (incr, locks)
	OpOther              // anything else (PING, EXISTS, PEXPIRE, …)
	numOps
)

var opNames = [numOps]string{"get", "set", "delete", "get_many", "pipeline", "scan", "script", "other"}

// String names the operation as Snapshot.Calls keys it ("get_many").
func (o Op) String() string {
	if o < numOps {
		return opNames[o]
	}
	return "other"
}

// OpOf classifies a Redis command name (any case).
func OpOf(command string) Op {
	switch strings.ToLower(command) {
	case "get", "getex":
		return OpGet
	case "set", "setnx", "setex", "psetex":
		return OpSet
	case "del", "unlink":
		return OpDelete
	case "mget":
		return OpGetMany
	case "scan":
		return OpScan
	case "eval", "evalsha", "eval_ro", "evalsha_ro":
		return OpScript
	}
	return OpOther
}

// Outcome is how a command ended. A miss is OK: the server answered.
type Outcome uint8

// The outcomes; every one but OK counts as an error.
const (
	OK            Outcome = iota
	ErrConnection         // refused, reset, closed, circuit breaker open
	ErrTimeout            // connect, read, write or pool wait timed out
	ErrAuth               // credentials or permission rejected
	ErrServer             // an error reply
	ErrOther              // anything else (closed client, bad argument)
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"ok", "connection", "timeout", "auth", "server", "other"}

// String names the outcome as Snapshot.ErrorsByKind keys it ("timeout").
func (o Outcome) String() string {
	if o < numOutcomes {
		return outcomeNames[o]
	}
	return "other"
}

// Server holds the counters of one server. The zero value is ready to use
// and a nil *Server ignores every call, so a transport never needs a check.
// It must not be copied after first use.
type Server struct {
	calls   [numOps]atomic.Uint64
	results [numOutcomes]atomic.Uint64
	hits    atomic.Uint64
	misses  atomic.Uint64
	reject  atomic.Uint64
	hist    Histogram
}

// Observe records one command (or one pipeline) sent to the server: its
// operation, how long it took end to end, and how it ended.
func (s *Server) Observe(op Op, d time.Duration, o Outcome) {
	if s == nil {
		return
	}
	if op >= numOps {
		op = OpOther
	}
	if o >= numOutcomes {
		o = ErrOther
	}
	s.calls[op].Add(1)
	s.results[o].Add(1)
	s.hist.Record(d)
}

// epoch anchors Now: time.Since of a monotonic reading costs one clock read,
// where time.Now costs two (wall and monotonic).
var epoch = time.Now()

// Now returns a monotonic clock reading for ObserveSince; it is cheaper
// than time.Now (one clock read) and means nothing outside this process.
func Now() time.Duration { return time.Since(epoch) }

// ObserveSince is Observe with the duration since start (a Now reading).
func (s *Server) ObserveSince(op Op, start time.Duration, o Outcome) {
	if s == nil {
		return
	}
	s.Observe(op, Now()-start, o)
}

// Lookups records the result of cache reads: hits keys found and misses
// keys missing. Only reads of cache values count (get, get_many and the
// value read of get_or_set), not internal reads such as lock or herd flags.
func (s *Server) Lookups(hits, misses int) {
	if s == nil {
		return
	}
	if hits > 0 {
		s.hits.Add(uint64(hits))
	}
	if misses > 0 {
		s.misses.Add(uint64(misses))
	}
}

// Lookup records one read: a hit when found, else a miss.
func (s *Server) Lookup(found bool) {
	if s == nil {
		return
	}
	if found {
		s.hits.Add(1)
	} else {
		s.misses.Add(1)
	}
}

// Reject records a value read that failed its protection check (it was
// also counted as a hit: the server had it).
func (s *Server) Reject() {
	if s != nil {
		s.reject.Add(1)
	}
}

// Add returns the sum of two pools' figures (several pools of one server).
func (p Pool) Add(q Pool) Pool {
	return Pool{p.Hits + q.Hits, p.Misses + q.Misses, p.Timeouts + q.Timeouts, p.WaitCount + q.WaitCount,
		p.TotalConns + q.TotalConns, p.IdleConns + q.IdleConns, p.StaleConns + q.StaleConns}
}

// Pool is a connection pool's figures at one moment (go-redis PoolStats).
type Pool struct {
	Hits       uint64 `json:"hits"`        // a free connection was found in the pool
	Misses     uint64 `json:"misses"`      // no free connection: one was dialled
	Timeouts   uint64 `json:"timeouts"`    // waiting for a free connection timed out
	WaitCount  uint64 `json:"waits"`       // a call waited for a free connection
	TotalConns uint64 `json:"total_conns"` // connections open now
	IdleConns  uint64 `json:"idle_conns"`  // of which idle
	StaleConns uint64 `json:"stale_conns"` // connections closed as stale so far
}

// Snapshot is a Server's counters at one moment, shaped for JSON.
type Snapshot struct {
	Server       string            `json:"server"` // set by the caller (no credentials)
	Calls        map[string]uint64 `json:"calls"`  // per Op name
	Commands     uint64            `json:"commands"`
	Hits         uint64            `json:"hits"`
	Misses       uint64            `json:"misses"`
	Rejected     uint64            `json:"rejected"` // values that failed their protection check
	Errors       uint64            `json:"errors"`
	ErrorsByKind map[string]uint64 `json:"errors_by_kind"` // per Outcome name, errors only
	Latency      Latency           `json:"latency_us"`
	Pool         *Pool             `json:"pool,omitempty"` // set by the caller
}

// Snapshot reads the counters without stopping writers.
func (s *Server) Snapshot() Snapshot {
	snap := Snapshot{Calls: make(map[string]uint64, numOps), ErrorsByKind: make(map[string]uint64, numOutcomes-1)}
	if s == nil {
		return snap
	}
	for op := Op(0); op < numOps; op++ {
		n := s.calls[op].Load()
		snap.Calls[op.String()] = n
		snap.Commands += n
	}
	for o := ErrConnection; o < numOutcomes; o++ {
		n := s.results[o].Load()
		snap.ErrorsByKind[o.String()] = n
		snap.Errors += n
	}
	snap.Hits, snap.Misses, snap.Rejected = s.hits.Load(), s.misses.Load(), s.reject.Load()
	snap.Latency = s.hist.Latency()
	return snap
}
