package main

/*
#include "redis_cache_go.h"
*/
import "C"

import "encoding/binary"

// rcgx_walk_step runs one SCAN step of a key walk on scan target number
// server and acts on the keys found (count them, delete them, or re-encode
// them): the per-step form of rcg_delete_pattern and rcg_reinsert, so a
// caller can report progress. See rcg_walk_step in the header.
//
//export rcgx_walk_step
func rcgx_walk_step(h C.uintptr_t, out *C.rcg_out, op C.int, server C.int64_t, cursor C.int64_t, pattern *C.uint8_t, plen C.size_t, count C.int64_t) (status C.int) {
	defer guard(h, out, &status)
	e, st := use(h, out)
	if e == nil {
		return st
	}
	defer e.done()
	if plen == 0 {
		return argError(out, "a key walk needs a pattern")
	}
	if op != C.RCG_WALK_COUNT && op != C.RCG_WALK_DELETE && op != C.RCG_WALK_REINSERT {
		return argError(out, "unknown walk operation")
	}
	targets := e.cache.ScanTargets()
	if server < 0 || int(server) >= len(targets) {
		return C.RCG_MISS
	}
	s := e.cache.Server(targets[server])
	keys, next, err := s.Scan(bg, uint64(cursor), borrowedString(pattern, plen), int(count))
	if err != nil {
		return fail(out, err)
	}
	n := int64(len(keys))
	switch {
	case len(keys) == 0 || op == C.RCG_WALK_COUNT:
	case op == C.RCG_WALK_DELETE:
		n, err = s.Unlink(bg, keys)
	case op == C.RCG_WALK_REINSERT:
		n, err = reinsertKeys(bg, e.codec, s, keys)
	}
	if err != nil {
		return fail(out, err)
	}
	res := reserve(out, 16)
	binary.LittleEndian.PutUint64(res, uint64(len(keys)))
	binary.LittleEndian.PutUint64(res[8:], uint64(n))
	out.num = C.int64_t(next)
	return C.RCG_OK
}
