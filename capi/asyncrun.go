package main

/*
#include "redis_cache_go.h"
*/
import "C"

import (
	"sync/atomic"
	"time"
)

// How the asynchronous operations run (async.go starts them): each job on
// a worker goroutine, and the GETs of one rcg_async_submit_many call on one
// handle together, as one job (core/cache.Cache.GetBatch).

// job is one started operation (or, with batch, the GETs of one handle
// started together), waiting for a goroutine to run it. prepare has
// counted it in flight on its queue and entered its handle; run ends both.
type job struct {
	e      *entry
	q      *asyncq
	op     int
	ticket int64
	x      args
	batch  []job // GETs on e, run together (then op, ticket and x are unused)
}

// run performs j and queues its completion(s).
func (j *job) run() {
	if j.batch != nil {
		j.runBatch()
		return
	}
	defer j.e.done()
	c := runOp(j.e, j.op, j.x)
	c.ticket = j.ticket
	j.q.push(c)
}

// runBatch reads the keys of j.batch with one GetBatch and queues their
// completions at once (one wake-up of the caller); each completion is the
// one the get operation would give (ops.go: get, found), a panic the
// internal error of runOp for each.
func (j *job) runBatch() {
	cs := make([]completion, len(j.batch))
	defer func() {
		if r := recover(); r != nil {
			msg := []byte(internalError(j.e, r))
			for i := range cs {
				cs[i] = completion{ticket: j.batch[i].ticket, status: C.RCG_ERR_INTERNAL, data: msg}
			}
		}
		j.q.push(cs...)
		for range j.batch {
			j.e.done()
		}
	}()
	keys := make([]string, len(j.batch))
	for i := range j.batch {
		keys[i] = str(j.batch[i].x.a)
		cs[i].ticket = j.batch[i].ticket
	}
	if msg := j.e.disabledMessage(); msg != "" {
		for i := range cs {
			cs[i].status, cs[i].data = C.RCG_ERR_INTERNAL, []byte(msg)
		}
		return
	}
	j.e.c.GetBatch(bg, keys, func(i int, v []byte, found bool, err error) {
		c := &cs[i]
		switch {
		case err != nil:
			c.status, c.data = int32(statusOf(err)), []byte(err.Error())
		case found:
			c.status, c.data = C.RCG_OK, append(make([]byte, 0, len(v)), v...)
		default:
			c.status = C.RCG_MISS
		}
	})
}

// batches collects the GET jobs of one rcg_async_submit_many call by handle.
type batches struct {
	order []*entry
	jobs  map[*entry][]job
}

// add keeps j (a GET) for start.
func (b *batches) add(j job) {
	if b.jobs == nil {
		b.jobs = map[*entry][]job{}
	}
	if _, seen := b.jobs[j.e]; !seen {
		b.order = append(b.order, j.e)
	}
	b.jobs[j.e] = append(b.jobs[j.e], j)
}

// start dispatches the GETs kept: a lone one as itself, several on one
// handle as one batch job.
func (b *batches) start() {
	for _, e := range b.order {
		js := b.jobs[e]
		if len(js) == 1 {
			dispatch(js[0])
			continue
		}
		dispatch(job{e: e, q: js[0].q, batch: js})
	}
}

// jobs hands a job to an idle worker (unbuffered: a send succeeds only when
// one is waiting); idleWorkers counts the workers waiting on it.
var (
	jobs        = make(chan job)
	idleWorkers atomic.Int32
)

// maxIdleWorkers bounds the goroutines kept waiting for the next job, and
// workerIdle how long one waits before it ends. A worker keeps the stack it
// grew, so the bursts of a busy event loop do not pay again for starting
// goroutines and growing their stacks (measured in bench/README.md,
// "Multiplexing"); an idle process keeps none (tests/python/
// test_resources.py counts goroutines).
const (
	maxIdleWorkers = 256
	workerIdle     = 2 * time.Second
)

// dispatch runs j on an idle worker, or on a new one.
func dispatch(j job) {
	select {
	case jobs <- j:
	default:
		go worker(j)
	}
}

// worker runs j, then the jobs handed to it, until more than
// maxIdleWorkers would be waiting or none came for workerIdle.
func worker(j job) {
	var idle *time.Timer
	for {
		j.run()
		j = job{}
		if idleWorkers.Add(1) > maxIdleWorkers {
			idleWorkers.Add(-1)
			return
		}
		if idle == nil {
			idle = time.NewTimer(workerIdle)
		} else {
			idle.Reset(workerIdle) // (Go >= 1.23 timers: no stale tick to drain)
		}
		select {
		case j = <-jobs:
			idleWorkers.Add(-1)
		case <-idle.C:
			idleWorkers.Add(-1)
			return
		}
	}
}
