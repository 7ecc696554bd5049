// Package herd is thundering-herd protection for get-or-set, stored so that
// django-redis-cache 3.0.1 (the seed) and this package, sharing a Redis
// during a rollout, honour each other's flags and locks:
//
//   - the value at key, with TTL timeout + stale window;
//   - FreshKey(key) with TTL timeout: while it exists the value is fresh
//     (the seed stores "1" there, we store Flag);
//   - TagKey(key) = Tag(value) with the value's TTL, written with it: it
//     marks the value as get-or-set's (the seed writes none);
//   - LockKey(key) = a random token while one worker recomputes, released
//     by compare-and-delete.
//
// A value is returned as it is while it is fresh, and also when get-or-set
// did not write it (its tag is missing or belongs to other bytes: set()
// or add() wrote it since), as Django's get_or_set returns any existing
// value; set() pays nothing for this. Only get-or-set's own value, once
// its flag expired, is stale: one caller anywhere takes the lock and
// recomputes while the others get the stale value.
//
// Unlike the seed, a caller that finds neither a value nor the lock free
// waits for the holder's result (at most the lock's TTL) instead of getting
// nothing, the lock always has a TTL, and inside one process concurrent
// callers for one key share one Redis conversation and one computation
// (single-flight): followers block in Go until the leader's outcome exists,
// a value or, when the computation failed, its failure (FailedError).
//
// The computation itself belongs to the caller (Go never calls back into
// Python): Ask either answers with a value or hands out a *Ticket; the
// ticket's owner computes and then calls Publish, or Abandon when the
// computation failed.
package herd

import (
	"context"
	"sync"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/expiry"
	"github.com/redis-cache-go/redis-cache-go/core/lock"
)

// Store is where values, flags, tags and locks live; *shard.Cache
// implements it.
type Store interface {
	lock.Store
	// Peek reads the values (nil: missing) and remaining TTLs (as
	// client.Client.GetManyTTL) of keys, which all live with keys[0], in
	// one round trip.
	Peek(ctx context.Context, keys []string) ([][]byte, []time.Duration, error)
	// Publish writes entries, which all live with entries[0].Key,
	// atomically where the server allows.
	Publish(ctx context.Context, entries []client.Entry) error
}

// Options tunes a Group. Zero fields take the defaults named on each.
type Options struct {
	// LockTTL is the lock's TTL when Ask is given none. Default: 30s.
	LockTTL time.Duration
	// Poll is the pause between checks while waiting for another
	// process's result. Default: 20ms.
	Poll time.Duration
	// Flights is the table of in-process computations the Group joins.
	// Groups over stores that hold the same data (one per handle, as
	// Django opens one cache per thread) share one, so their callers share
	// computations too. Default: the Group's own.
	Flights *Flights
	// Valid, when set, is asked about every value read: one it refuses
	// (a protected value that does not verify) is treated as absent, so it
	// is computed again and never served. Default: nil, every value is.
	Valid func(key string, value []byte) bool
}

// Defaults of Options.
const (
	DefaultLockTTL = 30 * time.Second
	DefaultPoll    = 20 * time.Millisecond
)

func (o Options) withDefaults() Options {
	if o.LockTTL <= 0 {
		o.LockTTL = DefaultLockTTL
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.Flights == nil {
		o.Flights = NewFlights()
	}
	return o
}

// Flights is a table of in-process get-or-set computations by key (see
// Options.Flights). It is safe for concurrent use.
type Flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

// NewFlights returns an empty table.
func NewFlights() *Flights { return &Flights{m: map[string]*flight{}} }

// Waiting returns how many callers wait in the table for another caller's
// get-or-set right now (all keys).
func (fl *Flights) Waiting() int {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	n := 0
	for _, f := range fl.m {
		n += f.waiting
	}
	return n
}

// Group runs get-or-set for many keys over one Store. It is safe for
// concurrent use.
type Group struct {
	store Store
	opts  Options
	fl    *Flights
}

// flight is one in-process get-or-set of a key; followers wait on done.
type flight struct {
	done chan struct{}
	// The outcome, set before done is closed: value, or err, or neither
	// (the followers ask again).
	value []byte
	err   error
	// waiting counts the followers that will take the outcome (guarded by
	// Flights.mu; final once the flight left the table).
	waiting int
	// stale is closed, with staleValue set, when the leader recomputes a
	// key that has a stale value: followers take that at once.
	stale      chan struct{}
	staleValue []byte
}

// Ticket is the duty to compute a key's value: returned by Ask, ended by
// exactly one of its Publish or Abandon.
type Ticket struct {
	// Key is the stored key to compute.
	Key string
	// Stale is the value stored before, when there is one (the ticket's
	// owner may serve it; followers in this process get it at once).
	Stale   []byte
	g       *Group
	token   string // "" when computing without the lock (the wait ran out)
	lockTTL expiry.TTL
	f       *flight
	once    sync.Once
}

// Locked reports whether the ticket's owner holds the Redis lock.
func (t *Ticket) Locked() bool { return t.token != "" }

// New returns a Group over s.
func New(s Store, o Options) *Group {
	o = o.withDefaults()
	return &Group{store: s, opts: o, fl: o.Flights}
}

// Ask answers key's value (stored bytes) when it is fresh, when get-or-set
// did not write it, when it is stale and another worker holds the lock, or
// once another caller (in this process or another) published it.
// Otherwise it returns a Ticket: the caller must compute the value and call
// the ticket's Publish, or its Abandon. A caller that waited in this
// process for a computation that failed gets a *FailedError (Abandon) or
// the error that stopped the leader. lockTTL <= 0 uses Options.LockTTL;
// waiting for another worker's result is bounded by it, after which the
// caller gets a ticket without the lock.
func (g *Group) Ask(ctx context.Context, key string, lockTTL expiry.TTL) ([]byte, *Ticket, error) {
	if lockTTL <= 0 {
		lockTTL = expiry.Of(g.opts.LockTTL)
	}
	deadline := time.Now().Add(lockTTL.Duration())
	for {
		g.fl.mu.Lock()
		f, busy := g.fl.m[key]
		if busy {
			f.waiting++
		} else {
			f = &flight{done: make(chan struct{}), stale: make(chan struct{})}
			g.fl.m[key] = f
		}
		g.fl.mu.Unlock()
		if !busy {
			return g.leadFlight(ctx, key, lockTTL, f)
		}
		v, again, err := g.follow(ctx, key, f, deadline)
		if again {
			continue // the leader gave up without a failure to share: ask again
		}
		if v == nil && err == nil {
			return g.lead(ctx, key, lockTTL, nil) // the leader is stuck: go on alone
		}
		return v, nil, err
	}
}

// leadFlight runs lead for flight f and ends f unless a ticket carries it.
func (g *Group) leadFlight(ctx context.Context, key string, lockTTL expiry.TTL, f *flight) ([]byte, *Ticket, error) {
	v, t, err := g.lead(ctx, key, lockTTL, f)
	switch {
	case t != nil && t.Stale != nil:
		f.staleValue = t.Stale
		close(f.stale)
	case t != nil:
	case err != nil && ctx.Err() != nil:
		g.finish(key, f, nil, nil) // our own context ended: not the followers' failure
	default:
		g.finish(key, f, v, err)
	}
	return v, t, err
}

// follow waits for flight f of key until deadline. It returns the flight's
// value or error; again when the followers should ask again; nothing when
// the deadline passed first.
func (g *Group) follow(ctx context.Context, key string, f *flight, deadline time.Time) (value []byte, again bool, err error) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-f.done:
	case <-f.stale:
		if g.leave(key, f) {
			return f.staleValue, false, nil
		}
	case <-timer.C:
		if g.leave(key, f) {
			return nil, false, nil
		}
	case <-ctx.Done():
		if g.leave(key, f) {
			return nil, false, ctx.Err()
		}
	}
	<-f.done // counted as waiting: take the outcome
	return f.value, f.value == nil && f.err == nil, f.err
}

// leave stops a follower's wait on f unless f has ended already (then the
// follower was counted and takes the outcome); it reports whether it did.
func (g *Group) leave(key string, f *flight) bool {
	g.fl.mu.Lock()
	defer g.fl.mu.Unlock()
	if g.fl.m[key] != f {
		return false
	}
	f.waiting--
	return true
}

// finish ends flight f of key with its outcome, wakes its followers and
// returns how many waited.
func (g *Group) finish(key string, f *flight, value []byte, err error) int {
	if f == nil {
		return 0
	}
	g.fl.mu.Lock()
	if g.fl.m[key] == f {
		delete(g.fl.m, key)
	}
	f.value, f.err = value, err
	n := f.waiting
	g.fl.mu.Unlock()
	close(f.done)
	return n
}

// Waiting returns how many callers wait in g's flight table right now.
func (g *Group) Waiting() int { return g.fl.Waiting() }

// lead runs the Redis side of get-or-set for key: a value to answer, a
// stale value while someone else holds the lock, the lock for us, or
// waiting.
func (g *Group) lead(ctx context.Context, key string, lockTTL expiry.TTL, f *flight) ([]byte, *Ticket, error) {
	lk := LockKey(key)
	deadline := time.Now().Add(lockTTL.Duration())
	for {
		s, err := g.peek(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		if g.answers(ctx, key, s) {
			return s.value, nil, nil
		}
		token := lock.NewToken()
		ok, err := g.store.AcquireLock(ctx, lk, token, lockTTL)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			// Someone may have published between our read and our lock.
			s2, err := g.peek(ctx, key)
			if err == nil && g.answers(ctx, key, s2) {
				_, err = g.store.ReleaseLock(ctx, lk, token)
				return s2.value, nil, err
			}
			return nil, &Ticket{Key: key, g: g, Stale: s2.value, token: token, lockTTL: lockTTL, f: f}, nil
		}
		if s.found() {
			return s.value, nil, nil // stale, while the holder recomputes
		}
		if time.Now().After(deadline) {
			// The holder outlived our lock TTL (e.g. a seed lock without
			// expiry): compute without the lock rather than answer nothing.
			return nil, &Ticket{Key: key, g: g, lockTTL: lockTTL, f: f}, nil
		}
		t := time.NewTimer(g.opts.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ctx.Err()
		case <-t.C:
		}
	}
}

// Publish stores the computed value (stored bytes) with valueTTL, the fresh
// flag with freshTTL (<= 0: no expiry) and the value's tag, releases the
// lock, and hands the value to the callers waiting in this process. The
// ticket is spent even when Publish fails; the waiting callers then get
// its error.
func (t *Ticket) Publish(ctx context.Context, value []byte, valueTTL, freshTTL expiry.TTL) error {
	g, err := t.g, errSpent
	t.once.Do(func() {
		err = g.store.Publish(ctx, entries(t.Key, value, valueTTL, freshTTL))
		if t.token != "" {
			if _, rerr := g.store.ReleaseLock(ctx, LockKey(t.Key), t.token); err == nil {
				err = rerr
			}
		}
		if err != nil {
			g.finish(t.Key, t.f, nil, err)
		} else {
			g.finish(t.Key, t.f, value, nil)
		}
	})
	return err
}

// Abandon gives up the ticket after a failed computation: it releases the
// lock and stores nothing. The callers waiting for it in this process
// return a *FailedError wrapping cause (with a nil cause they ask again,
// and one of them computes); waiting says how many there were.
func (t *Ticket) Abandon(ctx context.Context, cause error) (waiting int, err error) {
	g := t.g
	err = errSpent
	t.once.Do(func() {
		err = nil
		if t.token != "" {
			_, err = g.store.ReleaseLock(ctx, LockKey(t.Key), t.token)
		}
		var shared error
		if cause != nil {
			shared = &FailedError{Key: t.Key, Cause: cause}
		}
		waiting = g.finish(t.Key, t.f, nil, shared)
	})
	return waiting, err
}
