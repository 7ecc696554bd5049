// The fork guard, shared by guard.c (its state) and entries.c (the entry
// points that check it). Private to the library: hidden symbols.
#ifndef RCG_GUARD_H
#define RCG_GUARD_H

#include "redis_cache_go.h"

// Set in a child made by fork() after the library was loaded.
extern volatile int rcg_forked __attribute__((visibility("hidden")));

// Writes the fork message into out and returns RCG_ERR_FORKED.
__attribute__((visibility("hidden"))) int rcg_refuse(rcg_out *out);

// The first statement of every entry point: a Go runtime does not survive
// fork(), so a child must not enter Go (it would hang waiting for threads
// that no longer exist).
#define GUARD(out) \
    if (rcg_forked) return rcg_refuse(out)

#endif
