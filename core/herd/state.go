package herd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/expiry"
)

// FreshKey names the fresh flag of a stored key, as the seed names it.
func FreshKey(key string) string { return "__fresh__" + key }

// LockKey names the lock of a stored key, as the seed names it.
func LockKey(key string) string { return "__lock__" + key }

// TagKey names the key that holds Tag of the value get-or-set stored at
// key (the seed has none).
func TagKey(key string) string { return "__herd__" + key }

// Tag is what TagKey holds for the stored bytes of a value: the lowercase
// hex of the first 16 bytes of their SHA-256 (32 characters). Any writer
// that wants its value to count as get-or-set's computes the same.
func Tag(stored []byte) []byte {
	sum := sha256.Sum256(stored)
	return hex.AppendEncode(make([]byte, 0, 32), sum[:16])
}

// Flag is what Publish stores at FreshKey: "2". The seed stores "1" and
// reads the flag back as a cached value, so both must be non-zero decimal
// integers; the difference tells a reader whose get-or-set wrote the flag.
var Flag = []byte("2")

// state is one Peek of a key: its value and TTL, its fresh flag, its tag.
type state struct {
	value []byte // nil when missing
	ttl   time.Duration
	flag  []byte // nil when the value is not fresh
	tag   []byte // nil when there is no tag
}

// peek reads key's state in one round trip.
func (g *Group) peek(ctx context.Context, key string) (state, error) {
	vals, ttls, err := g.store.Peek(ctx, []string{key, FreshKey(key), TagKey(key)})
	if err != nil {
		return state{}, err
	}
	if vals[0] != nil && g.opts.Valid != nil && !g.opts.Valid(key, vals[0]) {
		return state{}, nil // absent: its flag and tag describe a value we will not serve
	}
	return state{value: vals[0], ttl: ttls[0], flag: vals[1], tag: vals[2]}, nil
}

func (s state) found() bool { return s.value != nil }
func (s state) fresh() bool { return s.flag != nil }

// ours reports whether get-or-set wrote the value (its tag matches it). A
// value rewritten since by anything else (set, add, incr, a seed's
// get-or-set after ours) no longer matches.
func (s state) ours() bool { return s.tag != nil && bytes.Equal(s.tag, Tag(s.value)) }

// answers reports whether a found value is the answer as it is: it is
// fresh, or get-or-set did not write it (Django's get_or_set returns any
// existing value; only get-or-set's own values turn stale and get
// recomputed). A fresh value whose flag another writer set (the seed, or
// an older release of this package) and that has no tag of ours is
// adopted: its tag is written, with the value's TTL, so it turns stale
// rather than permanent when the flag expires. Adopting is best effort.
func (g *Group) answers(ctx context.Context, key string, s state) bool {
	if !s.found() {
		return false
	}
	if !s.fresh() {
		return !s.ours()
	}
	if !bytes.Equal(s.flag, Flag) && s.ttl != 0 && !s.ours() {
		_ = g.store.Publish(ctx, []client.Entry{{Key: TagKey(key), Value: Tag(s.value), TTL: expiry.Of(s.ttl)}})
	}
	return true
}

// entries is what Publish writes for key's computed value.
func entries(key string, value []byte, valueTTL, freshTTL expiry.TTL) []client.Entry {
	return []client.Entry{
		{Key: key, Value: value, TTL: valueTTL},
		{Key: FreshKey(key), Value: Flag, TTL: freshTTL},
		{Key: TagKey(key), Value: Tag(value), TTL: valueTTL},
	}
}
