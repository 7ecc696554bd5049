package main

/*
#include "redis_cache_go.h"
*/
import "C"

import (
	"encoding/json"

	"github.com/redis-cache-go/redis-cache-go/core/migrate"
)

// copyRequest is rcg_copy_step's request document (see the header).
type copyRequest struct {
	Pattern     string        `json:"pattern"`
	Count       int           `json:"count"`
	DeleteMoved bool          `json:"delete_moved"`
	CountOnly   bool          `json:"count_only"`
	State       migrate.State `json:"state"`
}

// copyReply is rcg_copy_step's result document.
type copyReply struct {
	State    migrate.State     `json:"state"`
	Finished bool              `json:"finished"`
	Sources  []string          `json:"sources"`
	Counts   migrate.Counts    `json:"counts"`
	Failures []migrate.Failure `json:"failures"`
}

//export rcgx_copy_step
func rcgx_copy_step(h C.uintptr_t, out *C.rcg_out, dst C.uintptr_t, req *C.uint8_t, n C.size_t) (status C.int) {
	defer guard(h, out, &status)
	src, st := use(h, out)
	if src == nil {
		return st
	}
	defer src.done()
	to, st := use(dst, out)
	if to == nil {
		return st
	}
	defer to.done()
	r := reply{out: out}
	var q copyRequest
	if err := json.Unmarshal(borrowed(req, n), &q); err != nil {
		return r.argError("the copy request is not valid JSON: " + err.Error())
	}
	c, err := migrate.New(src.c.Shards(), to.c.Shards(), migrate.Options{Pattern: q.Pattern, Count: q.Count,
		DeleteMoved: q.DeleteMoved, CountOnly: q.CountOnly})
	if err != nil {
		return r.fail(err)
	}
	next, res, err := c.Step(bg, q.State)
	if err != nil {
		return r.fail(err)
	}
	doc := copyReply{State: next, Finished: next.Finished(), Counts: res.Counts, Failures: res.Failures}
	if doc.Failures == nil { // JSON arrays, never null
		doc.Failures = []migrate.Failure{}
	}
	if doc.State.Refused == nil {
		doc.State.Refused = []int{}
	}
	for i := 0; i < c.Sources(); i++ {
		doc.Sources = append(doc.Sources, c.SourceName(i))
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(err) // counts, strings and slices always marshal
	}
	r.bytes(b)
	return C.RCG_OK
}
