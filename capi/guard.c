// The fork guard's state (guard.h): a Go runtime does not survive fork(), so
// a child of a process that had loaded this library must not call into it.
// The entry points that check it are generated into entries.c from the
// headers (internal/entrygen); rcg_free, which never enters Go, is here.
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"

volatile int rcg_forked = 0;

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

int rcg_refuse(rcg_out *out) {
    if (out != NULL) {
        size_t n = sizeof(rcg_forked_msg) - 1;
        if (n > out->cap) n = out->cap;
        if (out->buf != NULL && n > 0) memcpy(out->buf, rcg_forked_msg, n);
        out->len = n;
        out->big = NULL;
    }
    return RCG_ERR_FORKED;
}

void rcg_free(void *p) { free(p); }
