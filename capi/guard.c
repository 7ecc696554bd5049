// The public entry points of the C ABI. Each checks the fork guard in C and
// only then enters Go: a Go runtime does not survive fork(), so a child of a
// process that had loaded this library must not call into it (it would hang
// waiting for threads that no longer exist).
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "redis_cache_go.h"
#ifdef RCG_DEBUG
#include "redis_cache_go_debug.h"
#endif
#include "_cgo_export.h"

static volatile int rcg_forked = 0;

static void rcg_mark_forked(void) { rcg_forked = 1; }

// Runs when the library is loaded, in the process that loads it.
__attribute__((constructor)) static void rcg_install_fork_guard(void) {
    pthread_atfork(NULL, NULL, rcg_mark_forked);
}

static const char rcg_forked_msg[] =
    "redis-cache-go cannot be used in a process forked after the cache was first used "
    "(the Go runtime does not survive fork()); make the first cache call after the fork: "
    "gunicorn without --preload, uWSGI lazy-apps = true, Celery worker_process_init, "
    "multiprocessing start method 'spawn' or 'forkserver'; or, with no code change, set "
    "OPTIONS[\"FORK_FALLBACK\"] = True to serve such a child through redis-py";

static int rcg_refuse(rcg_out *out) {
    if (out != NULL) {
        size_t n = sizeof(rcg_forked_msg) - 1;
        if (n > out->cap) n = out->cap;
        if (out->buf != NULL && n > 0) memcpy(out->buf, rcg_forked_msg, n);
        out->len = n;
        out->big = NULL;
    }
    return RCG_ERR_FORKED;
}

#define GUARD(out) \
    if (rcg_forked) return rcg_refuse(out)

#define U8(p) ((uint8_t *)(p))

int rcg_version(rcg_out *out) {
    GUARD(out);
    return rcgx_version(out);
}

int rcg_build_info(rcg_out *out) {
    GUARD(out);
    return rcgx_build_info(out);
}

int rcg_open(const uint8_t *config, size_t config_len, rcg_out *out) {
    GUARD(out);
    return rcgx_open(U8(config), config_len, out);
}

int rcg_close(uintptr_t h, rcg_out *out) {
    GUARD(out);
    return rcgx_close(h, out);
}

int rcg_ping(uintptr_t h, rcg_out *out) {
    GUARD(out);
    return rcgx_ping(h, out);
}

int rcg_get(uintptr_t h, rcg_out *out, const uint8_t *key, size_t key_len) {
    GUARD(out);
    return rcgx_get(h, out, U8(key), key_len);
}

int rcg_set(uintptr_t h, rcg_out *out, const uint8_t *key, size_t key_len,
            const uint8_t *value, size_t value_len, int64_t ttl_ms, int flags) {
    GUARD(out);
    return rcgx_set(h, out, U8(key), key_len, U8(value), value_len, ttl_ms, flags);
}

int rcg_delete(uintptr_t h, rcg_out *out, const uint8_t *key, size_t key_len) {
    GUARD(out);
    return rcgx_delete(h, out, U8(key), key_len);
}

int rcg_exists(uintptr_t h, rcg_out *out, const uint8_t *key, size_t key_len) {
    GUARD(out);
    return rcgx_exists(h, out, U8(key), key_len);
}

int rcg_expire(uintptr_t h, rcg_out *out, const uint8_t *key, size_t key_len, int64_t ttl_ms) {
    GUARD(out);
    return rcgx_expire(h, out, U8(key), key_len, ttl_ms);
}

int rcg_persist(uintptr_t h, rcg_out *out, const uint8_t *key, size_t key_len) {
    GUARD(out);
    return rcgx_persist(h, out, U8(key), key_len);
}

int rcg_ttl(uintptr_t h, rcg_out *out, const uint8_t *key, size_t key_len) {
    GUARD(out);
    return rcgx_ttl(h, out, U8(key), key_len);
}

int rcg_incr(uintptr_t h, rcg_out *out, const uint8_t *key, size_t key_len, int64_t delta) {
    GUARD(out);
    return rcgx_incr(h, out, U8(key), key_len, delta);
}

int rcg_rename(uintptr_t h, rcg_out *out, const uint8_t *src, size_t src_len,
               const uint8_t *dst, size_t dst_len) {
    GUARD(out);
    return rcgx_rename(h, out, U8(src), src_len, U8(dst), dst_len);
}

int rcg_get_many(uintptr_t h, rcg_out *out, const uint8_t *frame, size_t frame_len) {
    GUARD(out);
    return rcgx_get_many(h, out, U8(frame), frame_len);
}

int rcg_set_many(uintptr_t h, rcg_out *out, const uint8_t *frame, size_t frame_len, int64_t ttl_ms) {
    GUARD(out);
    return rcgx_set_many(h, out, U8(frame), frame_len, ttl_ms);
}

int rcg_delete_many(uintptr_t h, rcg_out *out, const uint8_t *frame, size_t frame_len) {
    GUARD(out);
    return rcgx_delete_many(h, out, U8(frame), frame_len);
}

int rcg_clear(uintptr_t h, rcg_out *out, const uint8_t *pattern, size_t pattern_len) {
    GUARD(out);
    return rcgx_clear(h, out, U8(pattern), pattern_len);
}

int rcg_command(uintptr_t h, rcg_out *out, const uint8_t *frame, size_t frame_len) {
    GUARD(out);
    return rcgx_command(h, out, U8(frame), frame_len);
}

int rcg_server_command(uintptr_t h, rcg_out *out, int64_t server, const uint8_t *frame, size_t frame_len) {
    GUARD(out);
    return rcgx_server_command(h, out, server, U8(frame), frame_len);
}

int rcg_locate(uintptr_t h, rcg_out *out, const uint8_t *key, size_t key_len) {
    GUARD(out);
    return rcgx_locate(h, out, U8(key), key_len);
}

int rcg_herd_ask(uintptr_t h, rcg_out *out, const uint8_t *key, size_t key_len, int64_t lock_ms) {
    GUARD(out);
    return rcgx_herd_ask(h, out, U8(key), key_len, lock_ms);
}

int rcg_herd_publish(uintptr_t h, rcg_out *out, int64_t ticket, const uint8_t *value, size_t value_len,
                     int64_t value_ms, int64_t fresh_ms) {
    GUARD(out);
    return rcgx_herd_publish(h, out, ticket, U8(value), value_len, value_ms, fresh_ms);
}

int rcg_herd_abandon(uintptr_t h, rcg_out *out, int64_t ticket) {
    GUARD(out);
    return rcgx_herd_abandon(h, out, ticket);
}

int rcg_herd_waiting(uintptr_t h, rcg_out *out) {
    GUARD(out);
    return rcgx_herd_waiting(h, out);
}

int rcg_lock_acquire(uintptr_t h, rcg_out *out, const uint8_t *key, size_t key_len,
                     int64_t ttl_ms, int64_t sleep_ms, int64_t wait_ms, int flags) {
    GUARD(out);
    return rcgx_lock_acquire(h, out, U8(key), key_len, ttl_ms, sleep_ms, wait_ms, flags);
}

int rcg_lock_release(uintptr_t h, rcg_out *out, const uint8_t *key, size_t key_len,
                     const uint8_t *token, size_t token_len) {
    GUARD(out);
    return rcgx_lock_release(h, out, U8(key), key_len, U8(token), token_len);
}

int rcg_lock_extend(uintptr_t h, rcg_out *out, const uint8_t *key, size_t key_len,
                    const uint8_t *token, size_t token_len, int64_t ttl_ms, int replace) {
    GUARD(out);
    return rcgx_lock_extend(h, out, U8(key), key_len, U8(token), token_len, ttl_ms, replace);
}

int rcg_lock_held(uintptr_t h, rcg_out *out, const uint8_t *key, size_t key_len) {
    GUARD(out);
    return rcgx_lock_held(h, out, U8(key), key_len);
}

int rcg_scan(uintptr_t h, rcg_out *out, int64_t server, int64_t cursor,
             const uint8_t *pattern, size_t pattern_len, int64_t count) {
    GUARD(out);
    return rcgx_scan(h, out, server, cursor, U8(pattern), pattern_len, count);
}

int rcg_delete_pattern(uintptr_t h, rcg_out *out, const uint8_t *pattern, size_t pattern_len, int64_t count) {
    GUARD(out);
    return rcgx_delete_pattern(h, out, U8(pattern), pattern_len, count);
}

int rcg_reinsert(uintptr_t h, rcg_out *out, const uint8_t *pattern, size_t pattern_len, int64_t count) {
    GUARD(out);
    return rcgx_reinsert(h, out, U8(pattern), pattern_len, count);
}

int rcg_walk_step(uintptr_t h, rcg_out *out, int op, int64_t server, int64_t cursor,
                  const uint8_t *pattern, size_t pattern_len, int64_t count) {
    GUARD(out);
    return rcgx_walk_step(h, out, op, server, cursor, U8(pattern), pattern_len, count);
}

int rcg_cache_stats(uintptr_t h, rcg_out *out) {
    GUARD(out);
    return rcgx_cache_stats(h, out);
}

int rcg_stats(rcg_out *out) {
    GUARD(out);
    return rcgx_stats(out);
}

int rcg_near_stats(uintptr_t h, rcg_out *out) {
    GUARD(out);
    return rcgx_near_stats(h, out);
}

int rcg_decode(rcg_out *out, const uint8_t *data, size_t data_len) {
    GUARD(out);
    return rcgx_decode(out, U8(data), data_len);
}

void rcg_free(void *p) { free(p); }

int rcg_async_open(int fd, rcg_out *out) {
    GUARD(out);
    return rcgx_async_open(fd, out);
}

int rcg_async_close(uintptr_t queue, rcg_out *out) {
    GUARD(out);
    return rcgx_async_close(queue, out);
}

int rcg_async_submit(uintptr_t queue, uintptr_t h, rcg_out *out, int op, int64_t ticket,
                     const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
                     int64_t n1, int64_t n2, int64_t n3, int64_t n4) {
    GUARD(out);
    return rcgx_async_submit(queue, h, out, op, ticket, U8(a), a_len, U8(b), b_len, n1, n2, n3, n4);
}

int rcg_async_drain(uintptr_t queue, rcg_out *out) {
    GUARD(out);
    return rcgx_async_drain(queue, out);
}

int rcg_async_stats(rcg_out *out) {
    GUARD(out);
    return rcgx_async_stats(out);
}

#ifdef RCG_DEBUG
/* Test and bench exports: only in the library built with -tags rcgdebug (capi/debug.go sets
 * RCG_DEBUG), declared in redis_cache_go_debug.h. */
int rcg_debug_panic(uintptr_t h, rcg_out *out) {
    GUARD(out);
    return rcgx_debug_panic(h, out);
}

int rcg_debug_repeat(uintptr_t h, rcg_out *out, int op, const uint8_t *frame, size_t frame_len,
                     int64_t ttl_ms, int64_t count, const uint8_t *cpu_profile, size_t cpu_profile_len) {
    GUARD(out);
    return rcgx_debug_repeat(h, out, op, U8(frame), frame_len, ttl_ms, count, U8(cpu_profile), cpu_profile_len);
}
#endif
