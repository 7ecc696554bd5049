/*
 * redis_cache_go_debug.h — test and benchmark exports of libredis_cache_go.so,
 * written by hand like redis_cache_go.h (whose rules apply). They exist only in a
 * library built with the Go build tag rcgdebug (`make build-debug`:
 * build/debug/libredis_cache_go.so; capi/debug.go); the production library, the
 * one the package and the wheel ship, has none of them.
 */
#ifndef REDIS_CACHE_GO_DEBUG_H
#define REDIS_CACHE_GO_DEBUG_H

#include "redis_cache_go.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Panics inside Go on this handle; returns RCG_ERR_INTERNAL and disables the
 * handle. Proves a panic never crashes the host process. */
int rcg_debug_panic(uintptr_t handle, rcg_out *out);

/* For bench/stages.py: calls one export count times inside Go, with
 * no cgo crossing per call, and sets out->num = the total nanoseconds. op is
 * an RCG_REPEAT_* value; frame holds its arguments: NOOP (resolve the handle
 * only) ignores it, GET takes [key], SET [key, value] (ttl_ms as rcg_set),
 * GET_MANY and SET_MANY the frame rcg_get_many / rcg_set_many take; WIRE_NETCONN
 * and WIRE_SYSCALL take [addr "host:port", request bytes, reply length in decimal]
 * and time the bare round trip on a connection of their own, through Go's
 * net.Conn or through blocking syscalls on the calling thread. Results
 * are discarded. A non-empty cpu_profile is a file path: a Go pprof CPU
 * profile of the loop is written there. Stops at the first error status and
 * returns it with its message. */
#define RCG_REPEAT_NOOP 0
#define RCG_REPEAT_GET 1
#define RCG_REPEAT_SET 2
#define RCG_REPEAT_GET_MANY 3
#define RCG_REPEAT_SET_MANY 4
#define RCG_REPEAT_WIRE_NETCONN 5
#define RCG_REPEAT_WIRE_SYSCALL 6
int rcg_debug_repeat(uintptr_t handle, rcg_out *out, int op, const uint8_t *frame, size_t frame_len,
                     int64_t ttl_ms, int64_t count, const uint8_t *cpu_profile, size_t cpu_profile_len);

#ifdef __cplusplus
}
#endif

#endif /* REDIS_CACHE_GO_DEBUG_H */
