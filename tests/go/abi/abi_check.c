/* Exercises libredis_cache_go.so through its hand-written header only, as any C
 * caller would. Usage: abi_check HOST:PORT. Prints one line per check and exits
 * non-zero on the first failure. Compiled with -DRCG_DEBUG (TestCABI does so for a
 * library built with -tags rcgdebug) it also checks the test exports of
 * redis_cache_go_debug.h: the repeat loop and panic recovery. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redis_cache_go.h"
#ifdef RCG_DEBUG
#include "redis_cache_go_debug.h"
#endif

static uint8_t scratch[256];
static rcg_out out;

#define CHECK(cond, ...)                                                          \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "FAIL line %d: %s: ", __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                         \
            fprintf(stderr, " (last message: %.*s)\n", (int)out.len, (char *)out.buf); \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

static void reset_out(void) {
    out.buf = scratch;
    out.cap = sizeof scratch;
    out.len = 0;
    out.big = NULL;
    out.num = 0;
}

static const uint8_t *S(const char *s) { return (const uint8_t *)s; }

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: abi_check HOST:PORT\n");
        return 2;
    }
    reset_out();
    int st = rcg_version(&out);
    CHECK(st == RCG_OK && out.len > 0, "version status %d", st);
    printf("ok version %.*s\n", (int)out.len, (char *)out.buf);

    /* build info: a JSON object longer than this 256-byte scratch buffer, so malloc'd */
    st = rcg_build_info(&out);
    CHECK(st == RCG_OK && out.big != NULL && out.len > sizeof scratch, "build info status %d", st);
    {
        char *doc = calloc(out.len + 1, 1);
        memcpy(doc, out.big, out.len);
        rcg_free(out.big);
        out.big = NULL;
        CHECK(doc[0] == '{' && doc[strlen(doc) - 1] == '}', "build info is no JSON object: %s", doc);
        CHECK(strstr(doc, "\"go_version\":\"go") != NULL, "no go_version in %s", doc);
        CHECK(strstr(doc, "\"-buildmode\":\"c-shared\"") != NULL, "no -buildmode c-shared in %s", doc);
        free(doc);
    }
    printf("ok build info\n");

    const char *bad = "{\"addr\": 5}";
    st = rcg_open(S(bad), strlen(bad), &out);
    CHECK(st == RCG_ERR_CONFIG, "bad config status %d", st);
    printf("ok bad config rejected\n");

    char cfg[256];
    snprintf(cfg, sizeof cfg, "{\"addr\": \"%s\", \"db\": 2, \"socket_timeout\": 2}", argv[1]);
    st = rcg_open(S(cfg), strlen(cfg), &out);
    CHECK(st == RCG_OK && out.num != 0, "open status %d", st);
    uintptr_t h = (uintptr_t)out.num;

    st = rcg_get(h, &out, S("abi:missing"), 11);
    CHECK(st == RCG_MISS && out.big == NULL, "miss status %d", st);

    st = rcg_set(h, &out, S("abi:k"), 5, S("v\0v"), 3, 0, 0);
    CHECK(st == RCG_OK, "set status %d", st);
    st = rcg_set(h, &out, S("abi:k"), 5, S("x"), 1, 0, RCG_SET_NX);
    CHECK(st == RCG_MISS, "set nx on existing status %d", st);
    st = rcg_get(h, &out, S("abi:k"), 5);
    CHECK(st == RCG_OK && out.len == 3 && out.big == NULL && memcmp(out.buf, "v\0v", 3) == 0, "get small");
    printf("ok set/get in scratch buffer\n");

    /* a value larger than the scratch buffer comes back malloc'd */
    size_t n = 100000;
    uint8_t *bigval = malloc(n);
    for (size_t i = 0; i < n; i++) bigval[i] = (uint8_t)(i * 7);
    st = rcg_set(h, &out, S("abi:big"), 7, bigval, n, 60000, 0);
    CHECK(st == RCG_OK, "set big status %d", st);
    st = rcg_get(h, &out, S("abi:big"), 7);
    CHECK(st == RCG_OK && out.big != NULL && out.len == n && memcmp(out.big, bigval, n) == 0, "get big");
    rcg_free(out.big);
    rcg_free(NULL);
    printf("ok large result through the overflow path\n");

    st = rcg_ttl(h, &out, S("abi:big"), 7);
    CHECK(st == RCG_OK && out.num > 50000 && out.num <= 60000, "ttl %lld", (long long)out.num);
    st = rcg_set(h, &out, S("abi:n"), 5, S("41"), 2, 0, 0);
    st = rcg_incr(h, &out, S("abi:n"), 5, 1);
    CHECK(st == RCG_OK && out.num == 42, "incr -> %lld", (long long)out.num);
    st = rcg_incr(h, &out, S("abi:none"), 8, 1);
    CHECK(st == RCG_MISS, "incr missing status %d", st);
    printf("ok ttl and incr\n");

    /* frame: count, lengths, then bytes: keys abi:k, abi:missing */
    uint8_t frame[4 + 8 + 16];
    uint32_t hdr[3] = {2, 5, 11};
    memcpy(frame, hdr, sizeof hdr);
    memcpy(frame + 12, "abi:kabi:missing", 16);
    st = rcg_get_many(h, &out, frame, sizeof frame);
    CHECK(st == RCG_OK, "get_many status %d", st);
    uint32_t got[3];
    memcpy(got, out.buf, sizeof got);
    CHECK(got[0] == 2 && got[1] == 3 && got[2] == 0xFFFFFFFFu && memcmp(out.buf + 12, "v\0v", 3) == 0,
          "get_many frame %u %u %u", got[0], got[1], got[2]);
    st = rcg_get_many(h, &out, frame, 7);
    CHECK(st == RCG_ERR_ARGUMENT, "truncated frame status %d", st);
    printf("ok framed batch and malformed frame\n");

    /* several servers: copy mode over db 3 and db 4 of the same server */
    char multi[512];
    snprintf(multi, sizeof multi,
             "{\"mode\": \"copy\", \"servers\": [{\"addr\": \"%s\", \"db\": 3}, {\"addr\": \"%s\", \"db\": 4}]}",
             argv[1], argv[1]);
    st = rcg_open(S(multi), strlen(multi), &out);
    CHECK(st == RCG_OK && out.num != 0, "open copy status %d", st);
    uintptr_t hc = (uintptr_t)out.num;
    /* command frame: routing key, then SADD abi:s m */
    uint8_t cmd[4 + 16 + 5 + 4 + 5 + 1];
    uint32_t chdr[5] = {4, 5, 4, 5, 1};
    memcpy(cmd, chdr, sizeof chdr);
    memcpy(cmd + 20, "abi:sSADDabi:sm", 15);
    st = rcg_command(hc, &out, cmd, 35);
    CHECK(st == RCG_OK && out.num == 1 && out.len == 5 + 2 * 9, "copy command status %d num %lld len %zu", st,
          (long long)out.num, out.len);
    CHECK(out.buf[0] == 'a' && out.buf[5] == 'i' && out.buf[6] == 1 && out.buf[14] == 'i' && out.buf[15] == 1,
          "per-server replies");
    st = rcg_locate(hc, &out, S("abi:s"), 5);
    CHECK(st == RCG_OK && out.num == 0, "locate in copy mode %lld", (long long)out.num);
    st = rcg_close(hc, &out);
    CHECK(st == RCG_OK, "close copy status %d", st);
    printf("ok copy mode: one reply per server, locate\n");

    /* the tiniest scratch buffer still gets a (truncated) message, never an overflow */
    out.cap = 4;
    st = rcg_get_many(h, &out, frame, 7);
    CHECK(st == RCG_ERR_ARGUMENT && out.len == 4 && out.big == NULL, "truncated message");
    reset_out();

    /* compression: a handle whose codec compresses with zlib; reads decode any known format */
    char zcfg[320];
    snprintf(zcfg, sizeof zcfg, "{\"addr\": \"%s\", \"db\": 2, \"codec\": {\"compressor\": \"zlib\", \"min_len\": 0}}", argv[1]);
    st = rcg_open(S(zcfg), strlen(zcfg), &out);
    CHECK(st == RCG_OK && out.num != 0, "open with codec status %d", st);
    uintptr_t hz = (uintptr_t)out.num;
    uint8_t zval[200];
    memset(zval, 'a', sizeof zval);
    st = rcg_set(hz, &out, S("abi:z"), 5, zval, sizeof zval, 0, 0);
    CHECK(st == RCG_OK, "compressed set status %d", st);
    st = rcg_get(h, &out, S("abi:z"), 5);
    CHECK(st == RCG_OK && out.len == sizeof zval && out.big == NULL, "decoded get len %zu", out.len);
    CHECK(memcmp(out.buf, zval, sizeof zval) == 0, "decoded get content");
    const uint8_t zhello[] = {0x78, 0x9c, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x06, 0x2c, 0x02, 0x15};
    st = rcg_decode(&out, zhello, sizeof zhello);
    CHECK(st == RCG_OK && out.num == 1 && out.len == 5 && memcmp(out.buf, "hello", 5) == 0, "decode zlib status %d", st);
    st = rcg_decode(&out, S("plain"), 5);
    CHECK(st == RCG_MISS && out.len == 0, "decode plain status %d", st);
    st = rcg_decode(&out, S("x\x9cjunk"), 6);
    CHECK(st == RCG_ERR_ARGUMENT && out.len > 0, "decode corrupt status %d", st);
    const char *badcodec = "{\"codec\": {\"compressor\": \"brotli\"}}";
    st = rcg_open(S(badcodec), strlen(badcodec), &out);
    CHECK(st == RCG_ERR_CONFIG, "bad codec status %d", st);
    st = rcg_close(hz, &out);
    CHECK(st == RCG_OK, "close codec handle status %d", st);
    printf("ok codec: compressed set, sniffing get, rcg_decode\n");
    reset_out();

    pid_t pid = fork();
    if (pid == 0) {
        double t0 = now();
        int cst = rcg_get(h, &out, S("abi:k"), 5);
        double dt = now() - t0;
        /* refused at once: the status says so; the clock only catches a hang, 10 s for a loaded machine */
        if (cst != RCG_ERR_FORKED || dt > 10.0 || out.len == 0) _exit(3);
        cst = rcg_async_submit(1, h, &out, RCG_OP_GET, 1, S("abi:k"), 5, NULL, 0, 0, 0, 0, 0);
        if (cst != RCG_ERR_FORKED) _exit(4);
        _exit(0);
    }
    int wst = 0;
    CHECK(waitpid(pid, &wst, 0) == pid && WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "forked child status %d", wst);
    st = rcg_get(h, &out, S("abi:k"), 5);
    CHECK(st == RCG_OK, "parent after fork status %d", st);
    printf("ok fork child refused at once, parent keeps working\n");

    /* herd: ask hands out a ticket on a cold key, publish stores value and flag; then a hit */
    reset_out();
    st = rcg_herd_ask(h, &out, S("abi:h"), 5, 5000);
    CHECK(st == RCG_HERD_COMPUTE && out.num != 0 && out.len == 1, "herd ask status %d", st);
    int64_t ticket = out.num;
    reset_out();
    st = rcg_herd_publish(h, &out, ticket, S("hv"), 2, 90000, 30000);
    CHECK(st == RCG_OK, "herd publish status %d", st);
    reset_out();
    st = rcg_herd_publish(h, &out, ticket, S("hv"), 2, 90000, 30000);
    CHECK(st == RCG_ERR_ARGUMENT, "spent ticket status %d", st);
    reset_out();
    st = rcg_herd_ask(h, &out, S("abi:h"), 5, 5000);
    CHECK(st == RCG_OK && out.len == 2 && memcmp(out.buf, "hv", 2) == 0, "herd hit status %d", st);
    reset_out();
    st = rcg_exists(h, &out, S("__fresh__abi:h"), 14);
    CHECK(st == RCG_OK, "fresh flag status %d", st);
    reset_out();
    st = rcg_exists(h, &out, S("__herd__abi:h"), 13);
    CHECK(st == RCG_OK, "value tag status %d", st);
    reset_out();
    st = rcg_herd_ask(h, &out, S("abi:h2"), 6, 0);
    CHECK(st == RCG_HERD_COMPUTE, "herd ask 2 status %d", st);
    ticket = out.num;
    reset_out();
    st = rcg_herd_abandon(h, &out, ticket);
    CHECK(st == RCG_OK && out.num == 0, "herd abandon status %d, %lld waiting", st, (long long)out.num);
    reset_out();
    st = rcg_herd_waiting(h, &out);
    CHECK(st == RCG_OK && out.num == 0, "herd waiting status %d, %lld waiting", st, (long long)out.num);
    reset_out();
    st = rcg_exists(h, &out, S("__lock__abi:h2"), 14);
    CHECK(st == RCG_MISS, "lock left after abandon: status %d", st);
    printf("ok herd ask, publish, abandon, waiting, spent ticket\n");

    /* locks and a SCAN step */
    reset_out();
    st = rcg_lock_acquire(h, &out, S("abi:lock"), 8, 5000, 10, 0, 0);
    CHECK(st == RCG_OK && out.len == 32, "lock acquire status %d len %zu", st, out.len);
    char token[32];
    memcpy(token, out.buf, 32);
    reset_out();
    st = rcg_lock_acquire(h, &out, S("abi:lock"), 8, 5000, 10, 30, RCG_LOCK_BLOCKING);
    CHECK(st == RCG_MISS, "second acquire status %d", st);
    reset_out();
    st = rcg_lock_extend(h, &out, S("abi:lock"), 8, S(token), 32, 9000, 1);
    CHECK(st == RCG_OK, "extend status %d", st);
    reset_out();
    st = rcg_lock_release(h, &out, S("abi:lock"), 8, S("wrong"), 5);
    CHECK(st == RCG_MISS, "release with a wrong token status %d", st);
    reset_out();
    st = rcg_lock_release(h, &out, S("abi:lock"), 8, S(token), 32);
    CHECK(st == RCG_OK, "release status %d", st);
    reset_out();
    st = rcg_lock_held(h, &out, S("abi:lock"), 8);
    CHECK(st == RCG_MISS, "held after release status %d", st);
    reset_out();
    st = rcg_scan(h, &out, 0, 0, S("__fresh__abi:*"), 14, 1000);
    CHECK(st == RCG_OK, "scan status %d", st);
    reset_out();
    st = rcg_scan(h, &out, 1, 0, S("*"), 1, 0);
    CHECK(st == RCG_MISS, "scan past the last server status %d", st);
    reset_out();
    st = rcg_delete_pattern(h, &out, S("__fresh__abi:*"), 14, 10);
    CHECK(st == RCG_OK && out.num == 1, "delete_pattern status %d num %lld", st, (long long)out.num);
    reset_out();
    st = rcg_reinsert(h, &out, S("abi:*"), 5, 0);
    CHECK(st == RCG_OK, "reinsert status %d", st);
    printf("ok locks, scan, delete_pattern, reinsert\n");

    /* a key walk step by step (count, then delete), and the per-server counters */
    reset_out();
    st = rcg_set(h, &out, S("abi:walk"), 8, S("w"), 1, 0, 0);
    CHECK(st == RCG_OK, "set status %d", st);
    for (int op = RCG_WALK_COUNT; op <= RCG_WALK_DELETE; op++) {
        long long total = 0;
        int64_t cursor = 0;
        do {
            reset_out();
            st = rcg_walk_step(h, &out, op, 0, cursor, S("abi:wal*"), 8, 1);
            CHECK(st == RCG_OK && out.len == 16 && out.big == NULL, "walk op %d status %d len %zu", op, st, out.len);
            uint64_t n = 0;
            for (int i = 15; i >= 8; i--) n = n << 8 | ((uint8_t *)out.buf)[i];
            total += (long long)n;
            cursor = out.num;
        } while (cursor != 0);
        CHECK(total == 1, "walk op %d found %lld keys; want 1", op, total);
    }
    reset_out();
    st = rcg_exists(h, &out, S("abi:walk"), 8);
    CHECK(st == RCG_MISS, "key left after a delete walk: status %d", st);
    reset_out();
    st = rcg_walk_step(h, &out, RCG_WALK_COUNT, 1, 0, S("*"), 1, 0);
    CHECK(st == RCG_MISS, "walk past the last server status %d", st);
    reset_out();
    st = rcg_walk_step(h, &out, 99, 0, 0, S("*"), 1, 0);
    CHECK(st == RCG_ERR_ARGUMENT, "unknown walk op status %d", st);
    reset_out();
    st = rcg_cache_stats(h, &out);
    CHECK(st == RCG_OK && out.len > 0, "cache stats status %d", st);
    {
        /* larger than the 256-byte scratch buffer: it arrives in out.big */
        CHECK(out.big != NULL && out.len > sizeof scratch, "stats len %zu big %p", out.len, (void *)out.big);
        const char *doc = (const char *)out.big;
        CHECK(doc[0] == '[' && doc[out.len - 1] == ']', "stats is not a JSON array: %.*s", (int)out.len, doc);
        CHECK(memmem(doc, out.len, "\"hits\":", 7) && memmem(doc, out.len, "\"p99\":", 6) &&
                  memmem(doc, out.len, "\"idle_conns\":", 13),
              "stats lacks a field: %.*s", (int)out.len, doc);
        rcg_free(out.big);
        out.big = NULL;
    }
    {
        /* DBSIZE on server 0: frame = u32 count 1, u32 len 6, "DBSIZE" */
        uint8_t fr[4 + 4 + 6] = {1, 0, 0, 0, 6, 0, 0, 0, 'D', 'B', 'S', 'I', 'Z', 'E'};
        reset_out();
        st = rcg_server_command(h, &out, 0, fr, sizeof fr);
        CHECK(st == RCG_OK && out.len == 9 && ((uint8_t *)out.buf)[0] == 'i', "server command status %d len %zu", st, out.len);
        reset_out();
        st = rcg_server_command(h, &out, 1, fr, sizeof fr);
        CHECK(st == RCG_MISS, "server command past the last server status %d", st);
    }
    printf("ok walk steps, cache stats, server command\n");

    {
        /* copy between layouts: db 2 (h) to db 5 of the same server, one key, then again */
        char dcfg[256];
        snprintf(dcfg, sizeof dcfg, "{\"addr\": \"%s\", \"db\": 5}", argv[1]);
        reset_out();
        st = rcg_open(S(dcfg), strlen(dcfg), &out);
        CHECK(st == RCG_OK && out.num != 0, "open db 5 status %d", st);
        uintptr_t d = (uintptr_t)out.num;
        reset_out();
        st = rcg_set(h, &out, S("abi:copy"), 8, S("c"), 1, 60000, 0);
        CHECK(st == RCG_OK, "set status %d", st);
        const char *req = "{\"pattern\": \"abi:cop*\", \"count\": 100, \"state\": {}}";
        for (int pass = 0; pass < 2; pass++) {
            reset_out();
            st = rcg_copy_step(h, &out, d, S(req), strlen(req));
            const char *doc = out.big ? (const char *)out.big : (const char *)out.buf;
            CHECK(st == RCG_OK && memmem(doc, out.len, "\"finished\":true", 15), "copy status %d: %.*s", st, (int)out.len, doc);
            const char *want = pass == 0 ? "\"copied\":1," : "\"already\":1,";
            CHECK(memmem(doc, out.len, want, strlen(want)) != NULL, "copy pass %d: %.*s", pass, (int)out.len, doc);
            rcg_free(out.big);
            out.big = NULL;
        }
        reset_out();
        st = rcg_copy_step(h, &out, d, S("{"), 1);
        CHECK(st == RCG_ERR_ARGUMENT, "copy with a bad request status %d", st);
        reset_out();
        st = rcg_close(d, &out);
        CHECK(st == RCG_OK, "close db 5 status %d", st);
        reset_out();
        st = rcg_copy_step(h, &out, d, S(req), strlen(req));
        CHECK(st == RCG_ERR_CLOSED, "copy to a closed handle status %d", st);
    }
    printf("ok copy step\n");

    /* async: submit two operations, wait for the eventfd, drain both completions */
    reset_out();
    st = rcg_async_open(-1, &out);
    CHECK(st == RCG_ERR_ARGUMENT && out.len > 0, "async open of a bad descriptor status %d", st);
    reset_out();
    int efd = eventfd(0, EFD_CLOEXEC);
    CHECK(efd >= 0, "eventfd");
    st = rcg_async_open(efd, &out);
    CHECK(st == RCG_OK && out.num != 0, "async open status %d", st);
    uintptr_t q = (uintptr_t)out.num;
    st = rcg_async_submit(q, h, &out, RCG_OP_SET, 7, S("abi:a"), 5, S("av"), 2, 60000, 0, 0, 0);
    CHECK(st == RCG_OK, "async submit set status %d", st);
    st = rcg_async_submit(q, h, &out, 99, 8, S("abi:a"), 5, NULL, 0, 0, 0, 0, 0);
    CHECK(st == RCG_ERR_ARGUMENT, "async unknown op status %d", st);
    int seen = 0, got_set = 0, got_get = 0;
    double t0 = now();
    while (seen < 2 && now() - t0 < 30.0) { /* deadlines that only bound a failure */
        struct pollfd pfd = {efd, POLLIN, 0};
        CHECK(poll(&pfd, 1, 30000) == 1, "async wake-up");
        uint64_t n;
        CHECK(read(efd, &n, 8) == 8 && n >= 1, "eventfd read");
        reset_out();
        st = rcg_async_drain(q, &out);
        CHECK(st == RCG_OK && out.big == NULL, "async drain status %d", st);
        const uint8_t *p = out.buf;
        for (int64_t i = 0; i < out.num; i++, seen++) {
            int64_t ticket; int32_t status; int64_t num; uint32_t len;
            memcpy(&ticket, p, 8); memcpy(&status, p + 8, 4); memcpy(&num, p + 12, 8); memcpy(&len, p + 20, 4);
            if (ticket == 7) {
                CHECK(status == RCG_OK && len == 0, "async set completion %d", status);
                got_set = 1;
                seen++;
                reset_out();
                st = rcg_async_submit(q, h, &out, RCG_OP_GET, 9, S("abi:a"), 5, NULL, 0, 0, 0, 0, 0);
                CHECK(st == RCG_OK, "async submit get status %d", st);
                break; /* out was reused; the next drain brings the get */
            }
            CHECK(ticket == 9 && status == RCG_OK && len == 2 && memcmp(p + 24, "av", 2) == 0, "async get completion");
            got_get = 1;
            p += 24 + len;
        }
    }
    CHECK(got_set && got_get, "async completions set %d get %d", got_set, got_get);
    reset_out();
    st = rcg_async_close(q, &out);
    CHECK(st == RCG_OK, "async close status %d", st);
    st = rcg_async_submit(q, h, &out, RCG_OP_GET, 10, S("abi:a"), 5, NULL, 0, 0, 0, 0, 0);
    CHECK(st == RCG_ERR_CLOSED, "async submit after close status %d", st);
    close(efd);
    reset_out();
    st = rcg_async_stats(&out);
    CHECK(st == RCG_OK && out.len > 0 && memcmp(out.buf, "inflight=0 queues=0", 19) == 0, "async stats %.*s", (int)out.len, (char *)out.buf);
    printf("ok async submit, eventfd wake-up, drain, close\n");

#ifdef RCG_DEBUG
    /* test-only repeat loop (bench/stages.py): 3 GETs of abi:k inside Go */
    reset_out();
    uint32_t rhdr[2] = {1, 5};
    uint8_t rframe[8 + 5];
    memcpy(rframe, rhdr, sizeof rhdr);
    memcpy(rframe + 8, "abi:k", 5);
    st = rcg_debug_repeat(h, &out, RCG_REPEAT_GET, rframe, sizeof rframe, 0, 3, NULL, 0);
    CHECK(st == RCG_OK && out.num > 0, "repeat get status %d ns %lld", st, (long long)out.num);
    reset_out();
    st = rcg_debug_repeat(h, &out, 99, rframe, sizeof rframe, 0, 3, NULL, 0);
    CHECK(st == RCG_ERR_ARGUMENT, "repeat with an unknown op status %d", st);
    printf("ok debug repeat\n");
#endif

    reset_out();
    st = rcg_near_stats(h, &out);
    CHECK(st == RCG_MISS, "near_stats without a near-cache status %d", st);
    {
        char ncfg[256];
        snprintf(ncfg, sizeof ncfg, "{\"addr\": \"%s\", \"db\": 2, \"local_cache\": {\"max_entries\": 10, \"prefix\": \"abi:\"}}", argv[1]);
        reset_out();
        st = rcg_open(S(ncfg), strlen(ncfg), &out);
        CHECK(st == RCG_OK && out.num != 0, "open near status %d", st);
        uintptr_t nh = (uintptr_t)out.num;
        st = rcg_set(nh, &out, S("abi:near"), 8, S("v1"), 2, 0, 0);
        CHECK(st == RCG_OK, "near set status %d", st);
        reset_out();
        st = rcg_get(nh, &out, S("abi:near"), 8);
        CHECK(st == RCG_OK && out.len == 2 && memcmp(out.buf, "v1", 2) == 0, "near get status %d", st);
        reset_out();
        st = rcg_near_stats(nh, &out);
        CHECK(st == RCG_OK && out.len > 5 && memcmp(out.buf, "hits=", 5) == 0, "near_stats status %d", st);
        st = rcg_close(nh, &out);
        CHECK(st == RCG_OK, "near close status %d", st);
        const char *multi_near = "{\"servers\": [{\"addr\": \"127.0.0.1:1\"}, {\"addr\": \"127.0.0.1:2\"}], \"local_cache\": {}}";
        reset_out();
        st = rcg_open(S(multi_near), strlen(multi_near), &out);
        CHECK(st == RCG_OK, "near on a ring of two servers status %d", st);
        uintptr_t mh = (uintptr_t)out.num;
        st = rcg_close(mh, &out);
        CHECK(st == RCG_OK, "near ring close status %d", st);
        const char *sentinel_near = "{\"servers\": [{\"addr\": \"ignored:1\"}], \"topology\": {\"kind\": \"sentinel\", \"addrs\": [\"127.0.0.1:1\"], \"service\": \"m\"}, \"local_cache\": {}}";
        reset_out();
        st = rcg_open(S(sentinel_near), strlen(sentinel_near), &out);
        CHECK(st == RCG_ERR_CONFIG, "near behind Sentinel status %d", st);
    }
    printf("ok near-cache stats, open and refusal\n");

#ifdef RCG_DEBUG
    reset_out();
    st = rcg_debug_panic(h, &out);
    CHECK(st == RCG_ERR_INTERNAL, "panic status %d", st);
    st = rcg_get(h, &out, S("abi:k"), 5);
    CHECK(st == RCG_ERR_INTERNAL, "disabled handle status %d", st);
    printf("ok panic recovered, handle disabled\n");
#else
    printf("skip debug repeat and panic recovery: not a -tags rcgdebug library\n");
#endif

    st = rcg_close(h, &out);
    CHECK(st == RCG_OK, "close status %d", st);
    st = rcg_get(h, &out, S("abi:k"), 5);
    CHECK(st == RCG_ERR_CLOSED, "closed handle status %d", st);
    st = rcg_close(h, &out);
    CHECK(st == RCG_ERR_CLOSED, "double close status %d", st);
    st = rcg_get(0, &out, S("abi:k"), 5);
    CHECK(st == RCG_ERR_CLOSED, "zero handle status %d", st);
    printf("ok closed and invalid handles\n");
    free(bigval);
    printf("PASS\n");
    return 0;
}
