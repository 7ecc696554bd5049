// Package herd is thundering-herd protection for get-or-set, stored exactly
// as django-redis-cache 3.0.1 stores it, so old and new processes sharing a
// Redis honour each other during a rollout:
//
//   - the value at key, with TTL timeout + stale window;
//   - "__fresh__"+key = "1" with TTL timeout: while it exists the value is
//     fresh;
//   - "__lock__"+key = a random token while one worker recomputes, released
//     by compare-and-delete.
//
// Unlike the seed, a caller that finds neither a value nor the lock free
// waits for the holder's result (at most the lock's TTL) instead of getting
// nothing, the lock always has a TTL, and inside one process concurrent
// callers for one key share one Redis conversation and one computation
// (single-flight): followers block in Go until the leader's result exists.
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

	"github.com/redis-cache-go/redis-cache-go/core/expiry"
	"github.com/redis-cache-go/redis-cache-go/core/lock"
)

// Store is where values, flags and locks live; *shard.Cache implements it.
type Store interface {
	lock.Store
	// Peek reads key's value (found) and whether freshKey exists.
	Peek(ctx context.Context, key, freshKey string) (value []byte, found, fresh bool, err error)
	// Publish writes value at key and "1" at freshKey atomically.
	Publish(ctx context.Context, key, freshKey string, value []byte, valueTTL, freshTTL expiry.TTL) error
}

// Options tunes a Group. Zero fields take the defaults named on each.
type Options struct {
	// LockTTL is the lock's TTL when Ask is given none. Default: 30s.
	LockTTL time.Duration
	// Poll is the pause between checks while waiting for another
	// process's result. Default: 20ms.
	Poll time.Duration
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
	return o
}

// FreshKey and LockKey name the flag and the lock of a stored key, as the
// seed names them.
func FreshKey(key string) string { return "__fresh__" + key }

// LockKey names the lock of a stored key (see FreshKey).
func LockKey(key string) string { return "__lock__" + key }

// Group runs get-or-set for many keys over one Store. It is safe for
// concurrent use.
type Group struct {
	store   Store
	opts    Options
	mu      sync.Mutex
	flights map[string]*flight
}

// flight is one in-process get-or-set of a key; followers wait on done.
type flight struct {
	done  chan struct{}
	value []byte // the stored bytes, nil when the flight failed
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
	return &Group{store: s, opts: o.withDefaults(), flights: map[string]*flight{}}
}

// Ask answers key's value (stored bytes) when it is fresh, when it is stale
// and another worker holds the lock, or once another caller (in this process
// or another) published it. Otherwise it returns a Ticket: the caller must
// compute the value and call the ticket's Publish, or its Abandon. lockTTL <= 0 uses
// Options.LockTTL; waiting for another worker's result is bounded by it,
// after which the caller gets a ticket without the lock.
func (g *Group) Ask(ctx context.Context, key string, lockTTL expiry.TTL) ([]byte, *Ticket, error) {
	if lockTTL <= 0 {
		lockTTL = expiry.Of(g.opts.LockTTL)
	}
	deadline := time.Now().Add(lockTTL.Duration())
	for {
		g.mu.Lock()
		f, busy := g.flights[key]
		if !busy {
			f = &flight{done: make(chan struct{}), stale: make(chan struct{})}
			g.flights[key] = f
		}
		g.mu.Unlock()
		if !busy {
			v, t, err := g.lead(ctx, key, lockTTL, f)
			if t == nil {
				g.finish(key, f, v)
			} else if t.Stale != nil {
				f.staleValue = t.Stale
				close(f.stale)
			}
			return v, t, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return g.lead(ctx, key, lockTTL, nil) // the leader is stuck: go on alone
		}
		timer := time.NewTimer(left)
		select {
		case <-f.done:
			timer.Stop()
			if f.value != nil {
				return f.value, nil, nil
			}
			// the leader failed or abandoned: try again, maybe as leader
		case <-f.stale:
			timer.Stop()
			return f.staleValue, nil, nil
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil, nil, ctx.Err()
		}
	}
}

// finish ends flight f of key with value (nil: failed) and wakes its
// followers.
func (g *Group) finish(key string, f *flight, value []byte) {
	if f == nil {
		return
	}
	g.mu.Lock()
	if g.flights[key] == f {
		delete(g.flights, key)
	}
	g.mu.Unlock()
	f.value = value
	close(f.done)
}

// lead runs the Redis side of get-or-set for key: fresh hit, stale hit
// while someone else holds the lock, the lock for us, or waiting.
func (g *Group) lead(ctx context.Context, key string, lockTTL expiry.TTL, f *flight) ([]byte, *Ticket, error) {
	fresh, lk := FreshKey(key), LockKey(key)
	deadline := time.Now().Add(lockTTL.Duration())
	for {
		v, found, isFresh, err := g.store.Peek(ctx, key, fresh)
		if err != nil {
			return nil, nil, err
		}
		if found && isFresh {
			return v, nil, nil
		}
		token := lock.NewToken()
		ok, err := g.store.AcquireLock(ctx, lk, token, lockTTL)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			// Someone may have published between our read and our lock.
			v2, found2, fresh2, err := g.store.Peek(ctx, key, fresh)
			if err == nil && found2 && fresh2 {
				_, err = g.store.ReleaseLock(ctx, lk, token)
				return v2, nil, err
			}
			var stale []byte
			if found2 {
				stale = v2
			}
			return nil, &Ticket{Key: key, g: g, Stale: stale, token: token, lockTTL: lockTTL, f: f}, nil
		}
		if found {
			return v, nil, nil // stale, while the holder recomputes
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

// Publish stores the computed value (stored bytes) with valueTTL and the
// fresh flag with freshTTL (<= 0: no expiry), releases the lock, and hands
// the value to the callers waiting in this process. The ticket is spent even
// when Publish fails.
func (t *Ticket) Publish(ctx context.Context, value []byte, valueTTL, freshTTL expiry.TTL) error {
	g, err := t.g, errSpent
	t.once.Do(func() {
		err = g.store.Publish(ctx, t.Key, FreshKey(t.Key), value, valueTTL, freshTTL)
		if t.token != "" {
			if _, rerr := g.store.ReleaseLock(ctx, LockKey(t.Key), t.token); err == nil {
				err = rerr
			}
		}
		if err != nil {
			g.finish(t.Key, t.f, nil)
		} else {
			g.finish(t.Key, t.f, value)
		}
	})
	return err
}

// Abandon gives up the ticket after a failed computation: it releases the
// lock, stores nothing, and lets the waiting callers try again.
func (t *Ticket) Abandon(ctx context.Context) error {
	g, err := t.g, errSpent
	t.once.Do(func() {
		err = nil
		if t.token != "" {
			_, err = g.store.ReleaseLock(ctx, LockKey(t.Key), t.token)
		}
		g.finish(t.Key, t.f, nil)
	})
	return err
}
