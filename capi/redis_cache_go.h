/*
 * redis_cache_go.h — the C ABI of libredis_cache_go.so. Written by hand; it is
 * the contract between the Go core and every caller (the Python package uses
 * it through ctypes). cgo's generated header is a build artefact, not this.
 *
 * Rules
 * - Every function returns an int status: RCG_OK (0), RCG_MISS (1: not found,
 *   not stored), or a negative RCG_ERR_* class.
 * - Inputs are borrowed for the duration of the call and never retained.
 * - Results go into the caller's scratch buffer out->buf (capacity out->cap);
 *   out->len is their length. A result longer than out->cap is returned in
 *   out->big, allocated with malloc; the caller copies it and releases it with
 *   rcg_free(). Integer results go to out->num.
 * - On an error status, out->buf holds a UTF-8 message (truncated to out->cap,
 *   out->len bytes, no terminating NUL); out->big is NULL.
 * - Handles come from rcg_open (in out->num), are never 0, and are closed with
 *   rcg_close. A handle that hit an internal error refuses every later call
 *   with RCG_ERR_INTERNAL; close it and open a new one.
 * - Batches are frames: uint32 little-endian item count, then per item a
 *   uint32 little-endian length and that many bytes; length 0xFFFFFFFF marks a
 *   missing item (no bytes follow).
 * - TTL arguments (ttl_ms, value_ms, fresh_ms, lock_ms) are int64
 *   milliseconds, sent to Redis as given up to 9223000000000000000 (about 292
 *   million years; core/expiry.MaxMS); a larger one is RCG_ERR_ARGUMENT and
 *   nothing is sent. Remaining TTLs (out->num of rcg_ttl) are exact too.
 * - Calls may block on the network for at most the configured timeouts; they
 *   are safe to make from many threads at once. rcg_close while other threads
 *   are inside calls on the handle: those calls finish normally, the
 *   connections close after the last one, and a call that starts after
 *   rcg_close gets RCG_ERR_CLOSED without having done anything.
 * - In a child made by fork() after the library was loaded, every call except
 *   rcg_free returns RCG_ERR_FORKED at once without entering Go.
 * - Every operation on a handle has an operation code, RCG_OP_<NAME> for
 *   rcg_<name> (listed with the asynchronous calls below): rcg_async_submit
 *   runs it by that code, with the same outcome as the sync export.
 * - Test and benchmark exports (rcg_debug_*) are not part of this library: they
 *   exist only in a build with the Go tag rcgdebug, declared in
 *   redis_cache_go_debug.h.
 */
#ifndef REDIS_CACHE_GO_H
#define REDIS_CACHE_GO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RCG_OK 0
#define RCG_MISS 1
#define RCG_ERR_CONNECTION (-1) /* refused, reset, closed by the server */
#define RCG_ERR_TIMEOUT (-2)    /* connect, read, write or pool wait timed out */
#define RCG_ERR_AUTH (-3)       /* credentials rejected or permission denied */
#define RCG_ERR_SERVER (-4)     /* the server answered with an error reply */
#define RCG_ERR_CONFIG (-5)     /* the configuration document is invalid */
#define RCG_ERR_ARGUMENT (-6)   /* a malformed argument, e.g. a bad frame */
#define RCG_ERR_CLOSED (-7)     /* unknown or closed handle */
#define RCG_ERR_FORKED (-8)     /* called in a fork() child; nothing was done */
#define RCG_ERR_INTERNAL (-9)   /* a bug (a recovered panic); the handle is disabled */
#define RCG_ERR_REJECTED (-10)  /* a stored value failed its protection check ("errors": "raise") */

/* rcg_herd_ask: the caller must compute the value (see below) */
#define RCG_HERD_COMPUTE 2
/* rcg_herd_ask: the computation this call waited for failed (see below) */
#define RCG_HERD_FAILED 3

/* rcg_set flags */
#define RCG_SET_NX 1 /* store only if the key is missing (status RCG_MISS otherwise) */

typedef struct rcg_out {
    uint8_t *buf; /* in: caller-owned scratch buffer */
    size_t cap;   /* in: its capacity in bytes */
    size_t len;   /* out: length of the result or error message */
    uint8_t *big; /* out: malloc'd result when it did not fit in buf, else NULL */
    int64_t num;  /* out: integer result (handle, count, counter value, ttl) */
} rcg_out;

/* Writes "<version> <go version>" into out. */
int rcg_version(rcg_out *out);

/* Writes how the library was built into out as a JSON object (UTF-8):
 * "version" (as rcg_version), "go_version", "path" (main package), "main"
 * and "deps" (modules: "path", "version", optional "sum" and "replace"),
 * "settings" (the Go toolchain's build settings, string to string, e.g.
 * "-buildmode", "-trimpath", "CGO_ENABLED", "GOOS", "GOARCH"). Usually
 * longer than a small scratch buffer: expect the result in out->big. */
int rcg_build_info(rcg_out *out);

/* Opens a client from a JSON configuration document (see capi/config.go and
 * capi/layout.go): one server, or a "servers" list with a "mode" (ring,
 * copy, primary); never touches the network. The handle is returned in
 * out->num. Every function below routes through that layout: a key's
 * server in ring mode, every server for writes in copy mode, the primary
 * for writes and a replica for reads in primary mode. An error involving
 * several servers names each one that failed; in copy mode a write that
 * failed on some servers is an error although the others took it, and a
 * successful write answers with the first server's result (RCG_MISS of an
 * NX set, out->num of incr and delete_many). */
int rcg_open(const uint8_t *config, size_t config_len, rcg_out *out);

/* Closes the handle and its connections. */
int rcg_close(uintptr_t handle, rcg_out *out);

/* PING. */
int rcg_ping(uintptr_t handle, rcg_out *out);

/* GET: RCG_OK with the value in out, or RCG_MISS. Values of rcg_get and
 * rcg_get_many come back decompressed when they are a valid stream of a known
 * format (see rcg_decode), else exactly as stored; rcg_set and rcg_set_many
 * compress with the handle's compressor (a decimal integer never is). */
int rcg_get(uintptr_t handle, rcg_out *out, const uint8_t *key, size_t key_len);

/* SET with ttl_ms > 0 (PX) or without expiry (ttl_ms <= 0). With RCG_SET_NX,
 * RCG_MISS when the key existed. */
int rcg_set(uintptr_t handle, rcg_out *out, const uint8_t *key, size_t key_len,
            const uint8_t *value, size_t value_len, int64_t ttl_ms, int flags);

/* DEL one key: RCG_OK if it existed, else RCG_MISS. */
int rcg_delete(uintptr_t handle, rcg_out *out, const uint8_t *key, size_t key_len);

/* EXISTS: RCG_OK or RCG_MISS. */
int rcg_exists(uintptr_t handle, rcg_out *out, const uint8_t *key, size_t key_len);

/* PEXPIRE ttl_ms (ttl_ms <= 0 deletes the key): RCG_OK if the key exists, else RCG_MISS. */
int rcg_expire(uintptr_t handle, rcg_out *out, const uint8_t *key, size_t key_len, int64_t ttl_ms);

/* PERSIST: RCG_OK if the key exists (with or without expiry before), else RCG_MISS. */
int rcg_persist(uintptr_t handle, rcg_out *out, const uint8_t *key, size_t key_len);

/* PTTL: RCG_OK with out->num = remaining ms, or -1 for no expiry; RCG_MISS if missing. */
int rcg_ttl(uintptr_t handle, rcg_out *out, const uint8_t *key, size_t key_len);

/* Atomic INCRBY of an existing key, keeping its TTL: RCG_OK with out->num = new
 * value; RCG_MISS if the key is missing (it is not created); RCG_ERR_SERVER if the
 * value is not an integer or would overflow. */
int rcg_incr(uintptr_t handle, rcg_out *out, const uint8_t *key, size_t key_len, int64_t delta);

/* RENAME src dst (value and TTL move, dst replaced): RCG_OK, or RCG_MISS if src is missing. */
int rcg_rename(uintptr_t handle, rcg_out *out, const uint8_t *src, size_t src_len,
               const uint8_t *dst, size_t dst_len);

/* MGET: keys in a frame; the result is a frame of values aligned with the keys,
 * missing values marked 0xFFFFFFFF. With several servers (ring mode) the keys
 * are split per server and each server gets one MGET, all concurrently. */
int rcg_get_many(uintptr_t handle, rcg_out *out, const uint8_t *frame, size_t frame_len);

/* SET of key, value, key, value … from a frame with an even item count, in one
 * pipeline, each with ttl_ms as in rcg_set. */
int rcg_set_many(uintptr_t handle, rcg_out *out, const uint8_t *frame, size_t frame_len, int64_t ttl_ms);

/* DEL of every key in a frame: out->num = how many existed. */
int rcg_delete_many(uintptr_t handle, rcg_out *out, const uint8_t *frame, size_t frame_len);

/* Deletes keys matching a glob pattern with SCAN + UNLINK batches (out->num = count);
 * an empty pattern is FLUSHDB (out->num = -1). Runs on every server at once
 * (the primary only in primary mode); out->num is the total, -1 if any server
 * was flushed whole. */
int rcg_clear(uintptr_t handle, rcg_out *out, const uint8_t *pattern, size_t pattern_len);

/* Runs one Redis command: a frame of the routing key (the caller's raw key,
 * no prefix), the command name, then its arguments. Reads (GET, HGET, ZRANGE,
 * ... see core/shard IsRead) go where cache reads go; other commands where
 * writes go. The reply is encoded in out: a tag byte, then 'n' nil; 'i'
 * int64 LE; 's' u32 LE length + bytes; 'e' u32 LE length + error message;
 * 'a' u32 LE count + items. In copy mode a write command runs on every server
 * and out->num = 1: the reply is an 'a' array with one item per server in
 * LOCATION order (out->num = 0 otherwise). An error reply is RCG_ERR_SERVER. */
int rcg_command(uintptr_t handle, rcg_out *out, const uint8_t *frame, size_t frame_len);

/* Runs one Redis command on server number server (LOCATION order; for a
 * Cluster or Sentinel entry, where go-redis routes it), bypassing the
 * layout's routing: a frame of the command name then its arguments. The
 * reply is encoded as for rcg_command. RCG_MISS when server is past the last
 * one. For admin tools (INFO, DBSIZE, PING per server). */
int rcg_server_command(uintptr_t handle, rcg_out *out, int64_t server, const uint8_t *frame, size_t frame_len);

/* Where key's writes go, without touching the network: out->num = the index
 * (LOCATION order) of the key's ring server in ring mode, of the primary in
 * primary mode, 0 in copy mode and with one server. */
int rcg_locate(uintptr_t handle, rcg_out *out, const uint8_t *key, size_t key_len);

/* Releases a result returned in out->big. Safe with NULL and in a fork() child. */
void rcg_free(void *p);

/* Decodes a stored value by its magic bytes, without a handle: RCG_OK with
 * the decompressed value in out and out->num = its format (1 zlib, 2 gzip,
 * 3 bzip2, 4 xz, 5 zstd, 6 lz4 frame, 7 s2/snappy stream); RCG_MISS when no
 * known magic starts it; RCG_ERR_ARGUMENT when one does but the stream is
 * corrupt, truncated, followed by other bytes, or inflates past its decode
 * limit (64 times its size, at least 8 to 64 MiB by format, at most 512 MiB:
 * core/codec Options.MaxRatio; the message then says "decode limit").
 * A handle's own compressor is the "codec" member of the rcg_open document
 * (capi/codec.go). */
int rcg_decode(rcg_out *out, const uint8_t *data, size_t data_len);

/* Herd-protected get-or-set, storage-compatible with django-redis-cache
 * (core/herd): key's value, "__fresh__"+key, "__lock__"+key and the value's
 * tag "__herd__"+key, all on the key's server. rcg_herd_ask answers RCG_OK
 * with the value (decoded as rcg_get) when it is fresh, when get-or-set did
 * not write it (set() did, or anything else, since), when it is stale and
 * another worker recomputes, or once another caller published it (waiting,
 * with the GIL released, at most lock_ms); concurrent asks for one key in
 * one process, through any handle opened with the same configuration
 * document, share one flight. Or it answers RCG_HERD_COMPUTE with a
 * ticket in out->num (out->len = 1 when the Redis lock, TTL lock_ms, is held
 * for the ticket; 0 when waiting ran out): the caller computes the value and
 * passes the ticket to exactly one of rcg_herd_publish (stores value with
 * value_ms, its tag with it and the fresh flag with fresh_ms, <= 0 = no
 * expiry, releases the lock, wakes the waiters with the value) or
 * rcg_herd_abandon (releases the lock, stores nothing; out->num = how many
 * asks were waiting for the ticket: each of them answers RCG_HERD_FAILED
 * with the abandoned ticket in out->num, so the caller's side can give them
 * the failure it holds for that ticket). Either spends the ticket, also on
 * error, and works on the handle the ticket was asked on whatever handle is
 * passed: a ticket keeps that handle's connections open until it is spent,
 * even across rcg_close. When the call that ran for a waiting ask failed on its own (e.g. a
 * connection error), the waiting asks answer that error.
 * lock_ms <= 0 uses the default lock TTL (30 s).
 * rcg_herd_waiting: out->num = how many asks wait for another ask's flight
 * right now (all keys, every handle of this configuration). */
int rcg_herd_ask(uintptr_t handle, rcg_out *out, const uint8_t *key, size_t key_len, int64_t lock_ms);
int rcg_herd_publish(uintptr_t handle, rcg_out *out, int64_t ticket, const uint8_t *value, size_t value_len,
                     int64_t value_ms, int64_t fresh_ms);
int rcg_herd_abandon(uintptr_t handle, rcg_out *out, int64_t ticket);
int rcg_herd_waiting(uintptr_t handle, rcg_out *out);

/* rcg_lock_acquire flags */
#define RCG_LOCK_BLOCKING 1

/* Locks (core/lock), on the key's server (the first server in copy mode).
 * rcg_lock_acquire: SET key token NX [PX ttl_ms] (ttl_ms <= 0: no expiry);
 * with RCG_LOCK_BLOCKING retries every sleep_ms until wait_ms passes
 * (wait_ms <= 0: no bound). RCG_OK with the token in out, or RCG_MISS.
 * rcg_lock_release: compare-and-delete; rcg_lock_extend: set (replace != 0)
 * or add ttl_ms while the token holds the lock; rcg_lock_held: EXISTS on the
 * lock's server. Each answers RCG_OK or RCG_MISS. */
int rcg_lock_acquire(uintptr_t handle, rcg_out *out, const uint8_t *key, size_t key_len,
                     int64_t ttl_ms, int64_t sleep_ms, int64_t wait_ms, int flags);
int rcg_lock_release(uintptr_t handle, rcg_out *out, const uint8_t *key, size_t key_len,
                     const uint8_t *token, size_t token_len);
int rcg_lock_extend(uintptr_t handle, rcg_out *out, const uint8_t *key, size_t key_len,
                    const uint8_t *token, size_t token_len, int64_t ttl_ms, int replace);
int rcg_lock_held(uintptr_t handle, rcg_out *out, const uint8_t *key, size_t key_len);

/* One SCAN step on walk target number server (every server in ring mode,
 * the primary in primary mode, the first server in copy mode): a frame of matching keys, out->num = the next
 * cursor (0: done; a uint64 in the int64). RCG_MISS when server is past
 * the last target. count <= 0: the configured scan count. */
int rcg_scan(uintptr_t handle, rcg_out *out, int64_t server, int64_t cursor,
             const uint8_t *pattern, size_t pattern_len, int64_t count);

/* Deletes the keys matching a non-empty glob pattern: SCAN + UNLINK in
 * batches of at most count keys, every scan target concurrently; out->num =
 * how many (in copy mode: on the first server). */
int rcg_delete_pattern(uintptr_t handle, rcg_out *out, const uint8_t *pattern, size_t pattern_len, int64_t count);

/* Re-encodes every string value matching a non-empty pattern with the
 * handle's codec (decoded first as rcg_get does), keeping each key's TTL;
 * out->num = how many values changed. */
int rcg_reinsert(uintptr_t handle, rcg_out *out, const uint8_t *pattern, size_t pattern_len, int64_t count);

/* rcg_walk_step operations */
#define RCG_WALK_COUNT 0    /* count the matching keys */
#define RCG_WALK_DELETE 1   /* UNLINK them */
#define RCG_WALK_REINSERT 2 /* re-encode their values as rcg_reinsert does */

/* One step of a key walk, for callers that report progress: one SCAN step
 * (count <= 0: the configured scan count) on scan target number server
 * (every server in ring and copy mode, the primary in primary mode; the
 * targets of rcg_delete_pattern and rcg_reinsert), then op on the keys it
 * found. RCG_OK with out->num = the next cursor (0: this server is done; a
 * uint64 in the int64) and 16 bytes in out: two little-endian int64, the
 * number of keys this step found, then how many of them were counted
 * (COUNT: all), deleted (DELETE) or rewritten (REINSERT).
 * RCG_MISS when server is past the last target. */
int rcg_walk_step(uintptr_t handle, rcg_out *out, int op, int64_t server, int64_t cursor,
                  const uint8_t *pattern, size_t pattern_len, int64_t count);

/* Per-server counters kept in Go (core/stats). Every handle opened with the
 * same configuration document in this process counts into the same
 * counters (from the first open; they only grow), so any handle answers for
 * all; "pool" sums the pool figures of the open ones. A JSON array in
 * LOCATION order, one object per server:
 *   {"server": "redis 127.0.0.1:6379 db 1", "commands": N,
 *    "calls": {"get": N, "set": N, "delete": N, "get_many": N, "pipeline": N,
 *              "scan": N, "script": N, "other": N},
 *    "hits": N, "misses": N, "rejected": N (values that failed their protection check), "errors": N,
 *    "errors_by_kind": {"connection": N, "timeout": N, "auth": N, "server": N, "other": N},
 *    "latency_us": {"count": N, "mean": F, "p50": F, "p90": F, "p99": F, "p999": F, "max": F},
 *    "pool": {"hits": N, "misses": N, "timeouts": N, "waits": N,
 *             "total_conns": N, "idle_conns": N, "stale_conns": N}}
 * Touches no server (a Cluster client that has not loaded its slot map
 * loads it). */
int rcg_cache_stats(uintptr_t handle, rcg_out *out);

/* Diagnostics: writes the Go runtime's counters into out as text,
 * "goroutines=N heap_alloc=B heap_objects=O total_alloc=T inflated=I"
 * (used by `make soak`; total_alloc: bytes Go allocated, inflated: bytes the
 * decompressors produced, both since the library loaded). */
int rcg_stats(rcg_out *out);

/* Near-cache counters of a handle opened with a "local_cache" member
 * (OPTIONS LOCAL_CACHE; core/nearcache): RCG_OK with text in out,
 * "hits=N misses=N fills=N dropped=N evictions=N expired=N invalidations=N
 * flushes=N connects=N failures=N entries=N bytes=N tracking=0|1 tracking_id=N"
 * (tracking_id is the CLIENT ID of the invalidation connection, 0 while it
 * is down); RCG_MISS when the handle has no near-cache.
 * With a near-cache, rcg_get and rcg_get_many answer from process memory
 * when they can (a copy of the decoded value), and every write call of this
 * handle drops the keys it wrote from it at once. */
int rcg_near_stats(uintptr_t handle, rcg_out *out);

/* Values that failed their protection check (a "protection" member; see
 * core/protect) since the last call, for the caller to log: RCG_OK with
 * {"rejections": [{"key": K, "reason": R}, ...], "dropped": N} in out
 * (at most one line per key per minute, at most 1,000 queued, N: lines
 * that did not fit), or RCG_MISS when there are none. Shared by the
 * handles opened with the same document, like rcg_cache_stats. */
int rcg_rejections(uintptr_t handle, rcg_out *out);

/* ---- Copying between layouts (manage.py redis_cache copy; core/migrate) ----
 *
 * rcg_copy_step copies one batch of keys from the layout of handle (the
 * source) to where the layout of handle dst places them: on every source
 * walk target (every server of a ring, the primary, the first copy; a
 * Cluster's primaries in turn) concurrently, one SCAN step of "count" keys
 * matching "pattern", DUMP + PTTL of them in one pipeline, then RESTORE key
 * ttl payload (never REPLACE: a key the destination has is left as it is,
 * counted "already") on each key's destination owner (its ring server,
 * every server in copy mode, the primary; a Cluster routes by slot), one
 * pipeline per destination server. A key whose owner is its source server
 * (same address and db) is not written ("skipped"). A destination that
 * refuses the payload ("DUMP payload version or checksum are wrong")
 * gets GET + SET NX [PX] for strings ("fallback"); keys of other types are
 * "failed". With "delete_moved", a key whose owner changed is deleted from
 * its source once the destination holds it, only if its DUMP there still
 * equals what was copied. "count_only" scans and counts, nothing else.
 * request: a JSON document {"pattern": glob (default "*"), "count": keys per
 * batch (default 1000, at most 10000), "delete_moved": bool, "count_only":
 * bool, "state": {"cursors": [uint64 per source], "done": [bool per
 * source], "refused": [destination indexes]}} (state {} to start).
 * RCG_OK with a JSON document in out: {"state": the state to pass next,
 * "finished": bool, "sources": [source names], "counts": {"scanned",
 * "skipped", "copied", "already", "expired", "failed", "fallback",
 * "deleted", "changed"}, "failures": [{"key", "server", "reason"}] (at most
 * 20 per step)}. On an error status (a server unreachable, a timeout: the
 * message names it) nothing of the state advanced: the same request again
 * redoes the batch, whose keys already copied count as "already".
 * It takes two handles, so it has no operation code (rcg_async_submit does
 * not run it); both stay usable, and either may be closed after it returns. */
int rcg_copy_step(uintptr_t handle, rcg_out *out, uintptr_t dst, const uint8_t *request, size_t request_len);
/* ---- end of copying between layouts ---- */

/* Asynchronous calls, for event loops (one completion queue per loop).
 * rcg_async_open takes a descriptor the caller polls for reading (an eventfd,
 * or the write end of a pipe whose read end it polls); the library keeps its
 * own dup() of it and closes that dup itself once the queue is closed and no
 * operation is in flight, so the caller may close its descriptor at any time
 * after rcg_async_close. The queue handle comes back in out->num.
 * rcg_async_submit validates the handle, copies the inputs and starts op on
 * a goroutine; it returns RCG_OK at once, or an error status with a
 * message (nothing was started). The operation later queues a completion
 * (ticket, status, num, payload) whose status and num follow the sync export
 * of the same name; when the queue goes from empty to non-empty the library
 * writes the 8-byte little-endian integer 1 to the descriptor. The caller
 * reads the descriptor (to reset it) and then calls rcg_async_drain, which
 * writes every queued completion: per record int64 ticket, int32 status,
 * int64 num, uint32 length, then that many bytes (the value, frame or error
 * message), all little-endian; out->num = the number of records. Completions
 * of a closed queue are dropped. A completion is queued for every submitted
 * operation, within the configured timeouts; a caller that no longer wants
 * it simply ignores its ticket (connections go back to the pool as usual).
 * op is any RCG_OP_* code. Arguments per op (a, b: bytes; n1 … n4:
 * integers, 0 when unused): the sync export's parameters after out, in their
 * order, bytes to a then b, integers to n1, n2, n3 then n4; for example:
 *   GET a=key | SET a=key b=value n1=ttl_ms n2=flags (RCG_SET_NX) |
 *   DELETE, EXISTS, PERSIST, TTL a=key | EXPIRE a=key n1=ttl_ms |
 *   INCR a=key n1=delta | RENAME a=src b=dst | GET_MANY, DELETE_MANY a=frame
 *   of keys | SET_MANY a=frame of key, value pairs n1=ttl_ms |
 *   CLEAR a=pattern | DELETE_PATTERN a=pattern n1=count |
 *   SCAN a=pattern n1=server n2=cursor n3=count | LOCK_ACQUIRE a=key
 *   n1=ttl_ms n2=sleep_ms n3=wait_ms n4=flags | LOCK_RELEASE a=key b=token |
 *   LOCK_EXTEND a=key b=token n1=ttl_ms n2=replace | LOCK_HELD a=key.
 *   A blocking LOCK_ACQUIRE keeps its goroutine (and the handle's
 *   connections) until it gets the lock or wait_ms passes, whether or not
 *   anyone still waits for its completion; a caller that may give up sooner
 *   sends non-blocking attempts and waits between them itself.
 * rcg_async_submit_many submits count operations in one call (an event loop
 * gathers those of one iteration): frame holds count records, each handle
 * u64, op i32, ticket i64, n1 … n4 i64, len(a) u32, len(b) u32 (60 bytes,
 * little-endian), then a and b. A malformed frame is RCG_ERR_ARGUMENT and
 * starts nothing; else every record gets a completion: its operation's, or,
 * when it could not start (a closed or disabled handle, an unknown op:
 * nothing was done, as a refusal of rcg_async_submit), one with that status,
 * num = -1 and the message. RCG_ERR_CLOSED when the queue is closed (nothing
 * started); a queue closed while the records start drops their completions.
 * The GET records of one call on one handle are read together (one MGET per
 * server and 128 keys; their completions are queued at once): each completes
 * as its GET would, except that a key holding another type than a string
 * completes as RCG_MISS (MGET's nil) where a GET fails with RCG_ERR_SERVER
 * (WRONGTYPE), and that a failed read fails every GET of its MGET.
 * rcg_async_stats writes "inflight=N queues=Q" (operations not yet completed,
 * open queues), for leak checks. */
/* The operation codes (rcg_async_submit's op): one per export on a handle
 * that runs as an operation; RCG_OP_<NAME> is rcg_<name>'s. */
#define RCG_OP_GET 1
#define RCG_OP_SET 2
#define RCG_OP_DELETE 3
#define RCG_OP_EXISTS 4
#define RCG_OP_EXPIRE 5
#define RCG_OP_PERSIST 6
#define RCG_OP_INCR 7
#define RCG_OP_RENAME 8
#define RCG_OP_GET_MANY 9
#define RCG_OP_SET_MANY 10
#define RCG_OP_DELETE_MANY 11
#define RCG_OP_CLEAR 12
#define RCG_OP_TTL 13
#define RCG_OP_DELETE_PATTERN 14
#define RCG_OP_SCAN 15
#define RCG_OP_LOCK_ACQUIRE 16
#define RCG_OP_LOCK_RELEASE 17
#define RCG_OP_LOCK_EXTEND 18
#define RCG_OP_LOCK_HELD 19
#define RCG_OP_PING 20
#define RCG_OP_COMMAND 21
#define RCG_OP_SERVER_COMMAND 22
#define RCG_OP_LOCATE 23
#define RCG_OP_HERD_ASK 24
#define RCG_OP_HERD_WAITING 25
#define RCG_OP_REINSERT 26
#define RCG_OP_WALK_STEP 27
#define RCG_OP_CACHE_STATS 28
#define RCG_OP_NEAR_STATS 29
#define RCG_OP_REJECTIONS 30
int rcg_async_open(int fd, rcg_out *out);
int rcg_async_close(uintptr_t queue, rcg_out *out);
int rcg_async_submit(uintptr_t queue, uintptr_t handle, rcg_out *out, int op, int64_t ticket,
                     const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
                     int64_t n1, int64_t n2, int64_t n3, int64_t n4);
int rcg_async_submit_many(uintptr_t queue, rcg_out *out, const uint8_t *frame, size_t frame_len, int64_t count);
int rcg_async_drain(uintptr_t queue, rcg_out *out);
int rcg_async_stats(rcg_out *out);

#ifdef __cplusplus
}
#endif

#endif /* REDIS_CACHE_GO_H */
