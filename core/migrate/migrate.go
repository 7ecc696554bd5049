// Package migrate copies the keys of one opened layout of servers (a
// core/shard.Cache: one server, a ring, copies, primary/replica, a Cluster)
// to where another layout places them, so a site can switch CACHES with a
// warm cache (manage.py redis_cache copy).
//
// The walk is a SCAN per source server, one batch per Step on every source
// server concurrently; the caller keeps the cursors (State) between steps,
// so a copy stops and resumes anywhere. Each batch reads DUMP + PTTL from
// its source server in one pipeline and sends RESTORE key ttl payload
// (without REPLACE: a key the destination has is never overwritten, it is
// counted as already there) to each key's owner as the destination routes
// it, one pipeline per destination server. A destination that refuses the
// payload (another RDB version, e.g. Valkey to Redis) gets GET + SET NX PX
// for strings; keys of other types are then reported as failed. A key
// whose owner does not change (same server and db) is not written; with
// Options.DeleteMoved a key that moved is deleted from its old server once
// copied, only if its DUMP there still equals what was copied.
package migrate

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/shard"
)

// Options configures a Copier. Zero values mean the defaults named on each
// field, applied in one place (withDefaults).
type Options struct {
	// Pattern selects the keys to copy (a SCAN MATCH glob). Default "*".
	Pattern string
	// Count is how many keys a SCAN step asks for and a batch copies: at
	// most about this many values per source server are in memory at once.
	// Default 1000; at most MaxCount.
	Count int
	// DeleteMoved deletes a key from its source server after it was copied
	// (or found already there) when its destination owner is another
	// server, and only if the source still holds the bytes that were read.
	DeleteMoved bool
	// CountOnly makes Step scan without reading or writing any value (a
	// dry run, or the total for a progress bar): only Counts.Scanned.
	CountOnly bool
	// MaxFailures bounds how many failed keys a Step names in
	// Result.Failures (Counts.Failed counts them all). Default 20.
	MaxFailures int
}

// MaxCount is the largest Options.Count.
const MaxCount = 10000

const (
	defaultCount       = 1000
	defaultMaxFailures = 20
)

func (o Options) withDefaults() Options {
	if o.Pattern == "" {
		o.Pattern = "*"
	}
	if o.Count <= 0 {
		o.Count = defaultCount
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = defaultMaxFailures
	}
	return o
}

// State is where a copy stands: one SCAN cursor per source server (the
// source's walk targets: every server of a ring, the primary, the first
// copy), whether that server is done, and the destination servers known to
// refuse RESTORE payloads. The zero State (nil slices) is the start.
type State struct {
	Cursors []uint64 `json:"cursors"`
	Done    []bool   `json:"done"`
	// Refused are destination servers (LOCATION index) that refused a
	// RESTORE payload: their keys go by GET/SET from then on.
	Refused []int `json:"refused"`
}

// Finished reports whether every source server is done.
func (s State) Finished() bool {
	for _, d := range s.Done {
		if !d {
			return false
		}
	}
	return len(s.Done) > 0
}

// Counts are what a Step did, per key (a key written to several copies
// counts once: failed if any write failed, else copied if any was new).
type Counts struct {
	Scanned  int64 `json:"scanned"`  // keys SCAN returned
	Skipped  int64 `json:"skipped"`  // owner unchanged (same server and db): not written
	Copied   int64 `json:"copied"`   // written to the destination
	Already  int64 `json:"already"`  // the destination had the key: left as it was
	Expired  int64 `json:"expired"`  // gone between SCAN and DUMP
	Failed   int64 `json:"failed"`   // not copied (see Result.Failures)
	Fallback int64 `json:"fallback"` // of Copied: by GET/SET, RESTORE being refused
	Deleted  int64 `json:"deleted"`  // DeleteMoved: removed from the old server
	Changed  int64 `json:"changed"`  // DeleteMoved: rewritten since read, left on the old server
}

func (c *Counts) add(o Counts) {
	c.Scanned += o.Scanned
	c.Skipped += o.Skipped
	c.Copied += o.Copied
	c.Already += o.Already
	c.Expired += o.Expired
	c.Failed += o.Failed
	c.Fallback += o.Fallback
	c.Deleted += o.Deleted
	c.Changed += o.Changed
}

// Failure is one key that was not copied.
type Failure struct {
	Key    string `json:"key"`
	Server string `json:"server"` // the destination server that refused it
	Reason string `json:"reason"`
}

// Result is the outcome of one Step.
type Result struct {
	Counts   Counts    `json:"counts"`
	Failures []Failure `json:"failures"`
}

// Copier copies from one layout to another. It holds no state between
// steps except what State carries; it is safe for concurrent use.
type Copier struct {
	src, dst *shard.Cache
	opts     Options
	targets  []int    // source servers walked (src.IterTargets)
	dstNames []string // destination servers' names (same name: same server and db)
}

// New returns a Copier from src to dst (both open; New touches no server).
func New(src, dst *shard.Cache, opts Options) (*Copier, error) {
	o := opts.withDefaults()
	if o.Count > MaxCount {
		return nil, &client.Error{Kind: client.KindArgument, Server: "copy", Op: "COPY",
			Err: errors.New("a batch of more than 10000 keys (MaxCount) would hold too many values in memory")}
	}
	c := &Copier{src: src, dst: dst, opts: o, targets: src.IterTargets()}
	for i := 0; i < dst.Len(); i++ {
		c.dstNames = append(c.dstNames, dst.Server(i).String())
	}
	return c, nil
}

// Sources returns how many source servers the copy walks (the length of
// State.Cursors).
func (c *Copier) Sources() int { return len(c.targets) }

// SourceName returns the name of source server i (as in error messages).
func (c *Copier) SourceName(i int) string { return c.src.Server(c.targets[i]).String() }

// Step runs one batch on every source server that is not done,
// concurrently, and returns the State to pass next. On an error (a server
// unreachable, a timeout: every failing server named) the given State is
// returned unchanged: running the step again redoes the batch, and keys
// already copied count as already there.
func (c *Copier) Step(ctx context.Context, st State) (State, Result, error) {
	n := len(c.targets)
	if st.Cursors == nil && st.Done == nil {
		st.Cursors, st.Done = make([]uint64, n), make([]bool, n)
	}
	if len(st.Cursors) != n || len(st.Done) != n {
		return st, Result{}, &client.Error{Kind: client.KindArgument, Server: "copy", Op: "COPY",
			Err: errors.New("the state has another number of source servers than the source layout")}
	}
	refused := make([]bool, len(c.dstNames))
	for _, d := range st.Refused {
		if d >= 0 && d < len(refused) {
			refused[d] = true
		}
	}
	outs := make([]batchOut, n)
	var wg sync.WaitGroup
	for t := 0; t < n; t++ {
		if st.Done[t] {
			continue
		}
		wg.Add(1)
		go func(t int) {
			defer wg.Done()
			outs[t] = c.batch(ctx, t, st.Cursors[t], refused)
		}(t)
	}
	wg.Wait()
	next := State{Cursors: append([]uint64(nil), st.Cursors...), Done: append([]bool(nil), st.Done...)}
	var res Result
	var errs []error
	for t, o := range outs {
		if st.Done[t] {
			continue
		}
		if o.err != nil {
			errs = append(errs, o.err)
			continue
		}
		next.Cursors[t], next.Done[t] = o.next, o.next == 0
		res.Counts.add(o.counts)
		for _, f := range o.failures {
			if len(res.Failures) < c.opts.MaxFailures {
				res.Failures = append(res.Failures, f)
			}
		}
		for _, d := range o.refused {
			refused[d] = true
		}
	}
	if len(errs) > 0 {
		return st, Result{}, stepError(errs)
	}
	for d, r := range refused {
		if r {
			next.Refused = append(next.Refused, d)
		}
	}
	return next, res, nil
}

// stepError is the error of a Step whose batches failed on some servers:
// the one error as is, or one naming every failure.
func stepError(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Error()
	}
	return &client.Error{Kind: client.KindOf(errs[0]), Server: "copy", Op: "COPY", Err: errors.New(strings.Join(parts, "; "))}
}
