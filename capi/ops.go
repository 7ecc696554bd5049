package main

/*
#include "redis_cache_go.h"
*/
import "C"

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"
	"unsafe"

	"github.com/redis-cache-go/redis-cache-go/core/cache"
	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/expiry"
	"github.com/redis-cache-go/redis-cache-go/core/frame"
	"github.com/redis-cache-go/redis-cache-go/core/lock"
	"github.com/redis-cache-go/redis-cache-go/core/wire"
)

// The operations on a handle, each the conversion of one core/cache call:
// its arguments unpacked from args, its outcome packed into a reply. The
// sync exports (exports.go) and the async queue (async.go, table ops) run
// the same functions, so each operation's semantics exist once.

// bg is the context of an asynchronous operation (its own goroutine);
// onThread that of a call from a C thread (the sync exports), which the
// raw connections serve with waits in the kernel (wire.OnThread). r.ctx()
// picks one.
var (
	bg       = context.Background()
	onThread = wire.OnThread(context.Background())
)

// args are an operation's inputs: a and b are bytes (a key, a value, a
// frame or a pattern), n1 … n4 integers, in the order of the export's
// parameters. In a sync call they borrow the caller's memory; in an async
// one they are the operation's own copy.
type args struct {
	a, b           []byte
	n1, n2, n3, n4 int64
}

// op is one operation; it returns the call's status.
type op func(e *entry, x args, r reply) C.int

// ops are the operations by RCG_OP_* code: the sync entry point rcg_<name>
// (through rcgx_op) and rcg_async_submit run the same function.
var ops = [...]op{
	C.RCG_OP_GET: get, C.RCG_OP_SET: set, C.RCG_OP_DELETE: del, C.RCG_OP_EXISTS: exists,
	C.RCG_OP_EXPIRE: expire, C.RCG_OP_PERSIST: persist, C.RCG_OP_INCR: incr,
	C.RCG_OP_RENAME: rename, C.RCG_OP_GET_MANY: getMany, C.RCG_OP_SET_MANY: setMany,
	C.RCG_OP_DELETE_MANY: deleteMany, C.RCG_OP_CLEAR: clear, C.RCG_OP_TTL: ttlOf,
	C.RCG_OP_DELETE_PATTERN: deletePattern, C.RCG_OP_SCAN: scan,
	C.RCG_OP_LOCK_ACQUIRE: lockAcquire, C.RCG_OP_LOCK_RELEASE: lockRelease,
	C.RCG_OP_LOCK_EXTEND: lockExtend, C.RCG_OP_LOCK_HELD: lockHeld,
	C.RCG_OP_PING: ping, C.RCG_OP_COMMAND: command, C.RCG_OP_SERVER_COMMAND: serverCommand,
	C.RCG_OP_LOCATE: locate, C.RCG_OP_HERD_ASK: herdAsk, C.RCG_OP_HERD_WAITING: herdWaiting,
	C.RCG_OP_REINSERT: reinsert, C.RCG_OP_WALK_STEP: walkStep,
	C.RCG_OP_CACHE_STATS: cacheStats, C.RCG_OP_NEAR_STATS: nearStats,
	C.RCG_OP_REJECTIONS: rejections,
}

// opOf is the operation of code (nil when there is none).
func opOf(code int) op {
	if code <= 0 || code >= len(ops) {
		return nil
	}
	return ops[code]
}

// str views b as a string without copying (b must not change meanwhile).
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// ttl is a TTL argument of the ABI (int64 milliseconds): it stays in
// milliseconds all the way to Redis (core/expiry), so a TTL longer than a
// time.Duration holds is stored as asked; core/client refuses one past
// expiry.MaxMS before sending anything.
func ttl(ms int64) expiry.TTL { return expiry.TTL(ms) }

// waitOf is a pause or bound in milliseconds (lock sleep and wait) as a
// time.Duration, the longest one past about 292 years instead of wrapping.
func waitOf(ms int64) time.Duration { return expiry.TTL(ms).Duration() }

// statuses are the RCG_ERR_* statuses of the error classes.
var statuses = map[client.Kind]C.int{
	client.KindConnection: C.RCG_ERR_CONNECTION, client.KindTimeout: C.RCG_ERR_TIMEOUT,
	client.KindAuth: C.RCG_ERR_AUTH, client.KindServer: C.RCG_ERR_SERVER,
	client.KindClosed: C.RCG_ERR_CLOSED, client.KindArgument: C.RCG_ERR_ARGUMENT,
}

// statusOf is the status of err's class (RCG_ERR_INTERNAL without one).
func statusOf(err error) C.int {
	var rejected *cache.RejectedError
	if errors.As(err, &rejected) {
		return C.RCG_ERR_REJECTED
	}
	if st, ok := statuses[client.KindOf(err)]; ok {
		return st
	}
	return C.RCG_ERR_INTERNAL
}

// found is a found / not found outcome as a status.
func found(r reply, ok bool, err error) C.int {
	switch {
	case err != nil:
		return r.fail(err)
	case ok:
		return C.RCG_OK
	}
	return C.RCG_MISS
}

// outcome is the status of an operation without a result.
func outcome(r reply, err error) C.int {
	if err != nil {
		return r.fail(err)
	}
	return C.RCG_OK
}

// count is a counting outcome: out->num = n.
func count(r reply, n int64, err error) C.int {
	if err == nil {
		r.num(n)
	}
	return outcome(r, err)
}

func get(e *entry, x args, r reply) C.int {
	ok, err := e.c.Get(r.ctx(), str(x.a), r.sink())
	return found(r, ok, err)
}

func set(e *entry, x args, r reply) C.int {
	if x.n2&^C.RCG_SET_NX != 0 {
		return r.argError("unknown rcg_set flags")
	}
	ok, err := e.c.Set(r.ctx(), str(x.a), x.b, ttl(x.n1), x.n2&C.RCG_SET_NX != 0)
	return found(r, ok, err)
}

func del(e *entry, x args, r reply) C.int {
	ok, err := e.c.Delete(r.ctx(), str(x.a))
	return found(r, ok, err)
}

func exists(e *entry, x args, r reply) C.int {
	ok, err := e.c.Exists(r.ctx(), str(x.a))
	return found(r, ok, err)
}

func expire(e *entry, x args, r reply) C.int {
	ok, err := e.c.Expire(r.ctx(), str(x.a), ttl(x.n1))
	return found(r, ok, err)
}

func persist(e *entry, x args, r reply) C.int {
	ok, err := e.c.Persist(r.ctx(), str(x.a))
	return found(r, ok, err)
}

func ttlOf(e *entry, x args, r reply) C.int {
	d, ok, err := e.c.TTL(r.ctx(), str(x.a))
	if ok && err == nil {
		r.num(int64(d)) // -1: no expiry
	}
	return found(r, ok, err)
}

func incr(e *entry, x args, r reply) C.int {
	v, ok, err := e.c.Incr(r.ctx(), str(x.a), x.n1)
	if err == nil {
		r.num(v)
	}
	return found(r, ok, err)
}

func rename(e *entry, x args, r reply) C.int {
	ok, err := e.c.Rename(r.ctx(), str(x.a), str(x.b))
	return found(r, ok, err)
}

func getMany(e *entry, x args, r reply) C.int {
	keys, err := frame.Keys(x.a) // owned: go-redis may keep args in pipelines
	if err != nil {
		return r.argError(err.Error())
	}
	// The reply is written into the frame as it is read: no value is kept.
	w := frame.NewWriter(r.scratch(), len(keys))
	if err := e.c.GetMany(r.ctx(), keys, w.Put); err != nil {
		return r.fail(err)
	}
	r.framed(w.Bytes())
	return C.RCG_OK
}

func setMany(e *entry, x args, r reply) C.int {
	keys, vals, err := frame.Pairs(x.a)
	if err != nil {
		return r.argError("set_many " + err.Error())
	}
	return outcome(r, e.c.SetMany(r.ctx(), keys, vals, ttl(x.n1)))
}

func deleteMany(e *entry, x args, r reply) C.int {
	keys, err := frame.Keys(x.a)
	if err != nil {
		return r.argError(err.Error())
	}
	n, err := e.c.DeleteMany(r.ctx(), keys)
	return count(r, n, err)
}

func clear(e *entry, x args, r reply) C.int {
	n, err := e.c.Clear(r.ctx(), str(x.a))
	return count(r, n, err)
}

func ping(e *entry, _ args, r reply) C.int { return outcome(r, e.c.Ping(r.ctx())) }

func locate(e *entry, x args, r reply) C.int { return count(r, int64(e.c.Locate(str(x.a))), nil) }

func lockAcquire(e *entry, x args, r reply) C.int {
	token, ok, err := e.c.AcquireLock(r.ctx(), str(x.a), lock.Options{
		TTL: ttl(x.n1), Sleep: waitOf(x.n2), Wait: waitOf(x.n3), Blocking: x.n4&C.RCG_LOCK_BLOCKING != 0,
	})
	if ok {
		r.bytes([]byte(token))
	}
	return found(r, ok, err)
}

func lockRelease(e *entry, x args, r reply) C.int {
	ok, err := e.c.ReleaseLock(r.ctx(), str(x.a), str(x.b))
	return found(r, ok, err)
}

func lockExtend(e *entry, x args, r reply) C.int {
	ok, err := e.c.ExtendLock(r.ctx(), str(x.a), str(x.b), ttl(x.n1), x.n2 != 0)
	return found(r, ok, err)
}

func lockHeld(e *entry, x args, r reply) C.int {
	ok, err := e.c.LockHeld(r.ctx(), str(x.a))
	return found(r, ok, err)
}

func scan(e *entry, x args, r reply) C.int {
	keys, next, ok, err := e.c.Scan(r.ctx(), int(x.n1), uint64(x.n2), str(x.a), int(x.n3))
	if !ok || err != nil {
		return found(r, ok, err)
	}
	items := make([][]byte, len(keys))
	for i, k := range keys {
		items[i] = []byte(k)
	}
	r.frame(items)
	r.num(int64(next))
	return C.RCG_OK
}

func deletePattern(e *entry, x args, r reply) C.int {
	if len(x.a) == 0 {
		return r.argError("delete_pattern needs a pattern")
	}
	n, err := e.c.DeletePattern(r.ctx(), str(x.a), int(x.n1))
	return count(r, n, err)
}

func reinsert(e *entry, x args, r reply) C.int {
	if len(x.a) == 0 {
		return r.argError("reinsert needs a pattern")
	}
	n, err := e.c.Reinsert(r.ctx(), str(x.a), int(x.n1))
	return count(r, n, err)
}

// walks are the RCG_WALK_* operations, by code.
var walks = map[int64]cache.Walk{C.RCG_WALK_COUNT: cache.WalkCount, C.RCG_WALK_DELETE: cache.WalkDelete, C.RCG_WALK_REINSERT: cache.WalkReinsert}

func walkStep(e *entry, x args, r reply) C.int {
	if len(x.a) == 0 {
		return r.argError("a key walk needs a pattern")
	}
	w, known := walks[x.n1]
	if !known {
		return r.argError("unknown walk operation")
	}
	st, ok, err := e.c.WalkStep(r.ctx(), w, int(x.n2), uint64(x.n3), str(x.a), int(x.n4))
	if !ok || err != nil {
		return found(r, ok, err)
	}
	res := r.sink().Alloc(16)
	binary.LittleEndian.PutUint64(res, uint64(st.Found))
	binary.LittleEndian.PutUint64(res[8:], uint64(st.Done))
	r.num(int64(st.Next))
	return C.RCG_OK
}

func cacheStats(e *entry, _ args, r reply) C.int {
	doc, err := json.Marshal(e.c.Stats())
	if err != nil {
		panic(err) // counters and strings always marshal
	}
	r.bytes(doc)
	return C.RCG_OK
}

func nearStats(e *entry, _ args, r reply) C.int {
	st, ok := e.c.NearStats()
	if ok {
		r.bytes([]byte(st.String()))
	}
	return found(r, ok, nil)
}

// rejection is one line of rcg_rejections' document.
type rejection struct {
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

func rejections(e *entry, _ args, r reply) C.int {
	got, dropped := e.c.Rejections()
	if len(got) == 0 && dropped == 0 {
		return C.RCG_MISS
	}
	lines := make([]rejection, len(got))
	for i, x := range got {
		lines[i] = rejection(x)
	}
	doc, err := json.Marshal(struct {
		Rejections []rejection `json:"rejections"`
		Dropped    int         `json:"dropped"`
	}{lines, dropped})
	if err != nil {
		panic(err) // strings and ints always marshal
	}
	r.bytes(doc)
	return C.RCG_OK
}
