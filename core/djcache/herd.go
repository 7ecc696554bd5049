package djcache

import (
	"context"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/cache"
	"github.com/redis-cache-go/redis-cache-go/core/expiry"
	"github.com/redis-cache-go/redis-cache-go/core/lock"
)

// DefaultStaleTimeout is the default of Options.StaleTimeout: 60 seconds,
// as the Python package's get_or_set.
const DefaultStaleTimeout = 60 * time.Second

// GetOrSet returns key's value, computing and storing it when it is missing
// or stale, with the thundering-herd protection of the Python package and
// django-redis-cache 3.0.1 (core/herd), so Go services, Django processes and
// seed processes sharing a Redis never stampede each other:
//
//   - the value is stored with ttl + Options.StaleTimeout, its tag
//     ("__herd__<made key>") with it, and "__fresh__<made key>" with ttl
//     (0: Options.Timeout; Forever: neither expires); while the flag lives
//     the value is returned as is;
//   - after it, one caller anywhere takes "__lock__<made key>" (TTL
//     Options.LockTimeout) and calls compute, while the others get the stale
//     value at once; a caller that finds neither a value nor a free lock
//     waits for the result (at most the lock TTL);
//   - a value GetOrSet did not write (Set, or anything else, wrote it
//     since) is returned as it is until it expires, as Django's get_or_set;
//   - inside this process concurrent callers for one key share one
//     computation, and its failure: when compute fails, the callers that
//     waited for it get a *herd.FailedError wrapping compute's error.
//
// With Options.ValueProtection, a stored value that does not verify is
// absent (computed again and overwritten), or a *RejectedError with
// ProtectionErrors "raise". compute's error is returned as is: nothing is
// stored and the lock is released. With Options.IgnoreExceptions, a server that cannot be reached
// (or a stored value that cannot be read) makes GetOrSet return compute's
// value without storing it.
func (c *Cache) GetOrSet(ctx context.Context, key string, ttl time.Duration, compute func(ctx context.Context) (any, error)) (any, error) {
	made := c.MakeKey(key)
	var stored cache.Buffer
	ticket, err := c.c.Ask(ctx, made, expiry.Of(c.opts.LockTimeout), &stored)
	if err == nil && ticket == nil {
		var v any
		if v, err = c.decodeAt(made, stored.B); err == nil {
			return v, nil
		}
	}
	if err != nil {
		if c.ignored(err) { // fail-open: computed, not stored
			return compute(ctx)
		}
		return nil, err
	}
	v, err := compute(ctx)
	if err != nil {
		_, _ = ticket.Abandon(ctx, err)
		return nil, err
	}
	data, err := c.serialize(v)
	if err != nil {
		_, _ = ticket.Abandon(ctx, err)
		return nil, err
	}
	fresh := c.ttl(ttl)
	var value expiry.TTL // no expiry unless both parts expire
	if fresh > 0 && c.opts.StaleTimeout > 0 {
		value = fresh + expiry.Of(c.opts.StaleTimeout) // in ms: no time.Duration overflow
	}
	if err := ticket.Publish(ctx, data, value, fresh); err != nil && !c.ignored(err) {
		return nil, err
	}
	return v, nil
}

// Lock is a distributed lock on one raw Redis key (no prefix, no version,
// as the Python package's cache.lock and django-redis-cache's), on that
// key's server: the key holds a random token while the lock is held, and
// Release and Extend are atomic compare-and-act scripts, so a holder whose
// lock expired never touches a lock someone else took since.
type Lock struct {
	c     *Cache
	key   string
	token string
	ttl   time.Duration
}

// Lock returns an unheld lock on the raw Redis key with ttl (<= 0: no
// expiry, as redis-py's timeout=None).
func (c *Cache) Lock(key string, ttl time.Duration) *Lock {
	return &Lock{c: c, key: key, token: lock.NewToken(), ttl: ttl}
}

// Acquire takes the lock. Without blocking it tries once; with blocking it
// retries every 100 ms until it succeeds, wait passes (<= 0: until ctx
// ends) or ctx ends. It reports whether the lock is now held.
func (l *Lock) Acquire(ctx context.Context, blocking bool, wait time.Duration) (bool, error) {
	return lock.Acquire(ctx, l.c.c.Shards(), l.key, l.token, lock.Options{TTL: expiry.Of(l.ttl), Blocking: blocking, Wait: wait})
}

// Release frees the lock if this Lock still holds it, and reports whether
// it did (false: it expired, and maybe someone else holds it now).
func (l *Lock) Release(ctx context.Context) (bool, error) {
	return l.c.c.Shards().ReleaseLock(ctx, l.key, l.token)
}

// Extend adds ttl to the lock's remaining time (or sets it, with replace)
// while this Lock holds it, and reports whether it did.
func (l *Lock) Extend(ctx context.Context, ttl time.Duration, replace bool) (bool, error) {
	return l.c.c.Shards().ExtendLock(ctx, l.key, l.token, expiry.Of(ttl), replace)
}
