package cache

import (
	"bytes"
	"context"
	"strings"

	"github.com/redis-cache-go/redis-cache-go/core/expiry"
	"github.com/redis-cache-go/redis-cache-go/core/herd"
)

// Ask is herd-protected get-or-set (core/herd, storage-compatible with
// django-redis-cache): it writes key's value, decoded as Get does, to dst
// and returns a nil Ticket when the value is fresh, when get-or-set did
// not write it, when it is stale and another worker recomputes, or once
// another caller published it (waiting at most the lock TTL). Otherwise
// it returns a Ticket: the caller computes the value and spends the ticket
// with Publish or Abandon. lockTTL <= 0 uses core/herd's default lock TTL.
// Concurrent asks for one key through any Cache of the same Config share
// one computation; a caller that waited for one whose owner abandoned it
// gets a *herd.FailedError. Each Ask counts one lookup on key's server: a
// hit when a value is served, a miss when the caller must compute.
func (c *Cache) Ask(ctx context.Context, key string, lockTTL expiry.TTL, dst Sink) (*Ticket, error) {
	key = strings.Clone(key) // kept in the flight table
	v, t, err := c.herd.Ask(ctx, key, lockTTL)
	if err != nil {
		return nil, err
	}
	c.shards.Owner(key).Recorder().Lookup(t == nil)
	if t != nil {
		return &Ticket{t: t, c: c}, nil
	}
	ok, err := c.values.put(dst, key, v)
	if err == nil && !ok { // herd's Valid passed it: only a value that changed under us
		err = &RejectedError{Key: key, Reason: "the value did not verify on a second read"}
	}
	return nil, err
}

// Waiting returns how many asks wait for another ask's computation right
// now (all keys, every Cache of this Config).
func (c *Cache) Waiting() int { return c.herd.Waiting() }

// Ticket is the duty to compute a key's value, handed out by Ask and spent
// by exactly one of Publish or Abandon.
type Ticket struct {
	t *herd.Ticket
	c *Cache
}

// Key returns the key to compute.
func (t *Ticket) Key() string { return t.t.Key }

// Locked reports whether the ticket holds the Redis lock (false when
// waiting for it ran out).
func (t *Ticket) Locked() bool { return t.t.Locked() }

// Publish stores value (compressed as Set does) with valueTTL, its herd tag
// with it and the fresh flag with freshTTL (<= 0: no expiry), releases the
// lock and hands the value to the asks that waited for it. value is copied.
func (t *Ticket) Publish(ctx context.Context, value []byte, valueTTL, freshTTL expiry.TTL) error {
	stored, err := t.c.values.encode(t.t.Key, bytes.Clone(value)) // the waiting asks keep it
	if err != nil {
		_, _ = t.t.Abandon(ctx, nil) // the waiting asks ask again
		return err
	}
	err = t.t.Publish(ctx, stored, valueTTL, freshTTL)
	t.c.forget(t.t.Key)
	return err
}

// Abandon releases the lock and stores nothing; the asks that waited for
// the ticket get a *herd.FailedError with cause (a nil cause: they ask
// again). It returns how many asks waited.
func (t *Ticket) Abandon(ctx context.Context, cause error) (int, error) {
	return t.t.Abandon(ctx, cause)
}
