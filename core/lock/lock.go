// Package lock is a distributed lock on one Redis key, shaped like
// redis-py's Lock (which django-redis-cache and django-redis hand out): the
// key holds a random token while the lock is held, always with a TTL unless
// the caller asks for none, and release and extend are atomic
// compare-and-act Lua scripts, so an owner whose lock expired can never
// delete or prolong a lock that someone else took meanwhile.
package lock

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/expiry"
)

// Store is where locks live: *shard.Cache routes each lock key to its
// server.
type Store interface {
	// AcquireLock stores token at key if key is missing, with ttl (<= 0:
	// no expiry), and reports whether it did.
	AcquireLock(ctx context.Context, key, token string, ttl expiry.TTL) (bool, error)
	// ReleaseLock deletes key if it holds token, atomically.
	ReleaseLock(ctx context.Context, key, token string) (bool, error)
	// ExtendLock sets (replace) or adds ttl while key holds token.
	ExtendLock(ctx context.Context, key, token string, ttl expiry.TTL, replace bool) (bool, error)
}

// Options says how Acquire waits.
type Options struct {
	// TTL is the lock key's time to live; <= 0 means no expiry (redis-py's
	// timeout=None).
	TTL expiry.TTL
	// Sleep is the pause between attempts while blocking. Default: 100ms.
	Sleep time.Duration
	// Blocking makes Acquire retry until it gets the lock or Wait passes.
	Blocking bool
	// Wait bounds the blocking; <= 0 waits until ctx ends.
	Wait time.Duration
}

// DefaultSleep is the pause between attempts when Options.Sleep is zero.
const DefaultSleep = 100 * time.Millisecond

func (o Options) withDefaults() Options {
	if o.Sleep <= 0 {
		o.Sleep = DefaultSleep
	}
	return o
}

// NewToken returns a fresh random token: 32 lower-case hex characters, the
// shape of redis-py's uuid1().hex tokens.
func NewToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b[:])
}

// Acquire tries to store token at key in s, retrying every o.Sleep while
// o.Blocking until o.Wait passes or ctx ends; it reports whether it got the
// lock. Errors from the store end the attempt.
func Acquire(ctx context.Context, s Store, key, token string, o Options) (bool, error) {
	o = o.withDefaults()
	sleep := o.Sleep
	var deadline time.Time
	if o.Wait > 0 {
		deadline = time.Now().Add(o.Wait)
	}
	for {
		ok, err := s.AcquireLock(ctx, key, token, o.TTL)
		if ok || err != nil || !o.Blocking {
			return ok, err
		}
		pause := sleep
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				return false, nil
			}
			pause = min(pause, left)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, nil
		case <-t.C:
		}
	}
}
