package djcache

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/cache"
	"github.com/redis-cache-go/redis-cache-go/core/client"
	"github.com/redis-cache-go/redis-cache-go/core/codec"
	"github.com/redis-cache-go/redis-cache-go/core/pickle"
)

// ErrNotFound is returned by Incr for a key that does not exist (Django
// raises ValueError there).
var ErrNotFound = errors.New("djcache: key not found")

// ValueError reports a stored value that cannot be read: a corrupt
// compressed stream, bytes the serializer cannot read, or a Python type
// without a Go counterpart (errors.As to *pickle.UnsupportedTypeError
// names it).
type ValueError struct {
	// Key is the Redis key (after MakeKey).
	Key string
	// Err is the codec's or the serializer's error.
	Err error
}

// Error names the key and the cause.
func (e *ValueError) Error() string { return fmt.Sprintf("djcache: value at %q: %v", e.Key, e.Err) }

// Unwrap returns the cause.
func (e *ValueError) Unwrap() error { return e.Err }

// Encode returns the bytes Set stores for v: decimal text for a Go integer
// (not a bool, not a time.Duration) or a *big.Int, as Django stores plain
// ints; otherwise the serialized value, compressed by the configured
// compressor. With Options.ValueProtection, Set then signs or encrypts
// these bytes for their Redis key (plain integers excepted).
func (c *Cache) Encode(v any) ([]byte, error) {
	data, err := c.serialize(v)
	if err != nil {
		return nil, err
	}
	return c.codec.Encode(data)
}

// serialize is Encode before compression (core/cache compresses).
func (c *Cache) serialize(v any) ([]byte, error) {
	if raw, ok := plainInt(v); ok {
		return raw, nil
	}
	return c.opts.Serializer.Marshal(v)
}

func plainInt(v any) ([]byte, bool) {
	switch x := v.(type) {
	case int:
		return strconv.AppendInt(nil, int64(x), 10), true
	case int8:
		return strconv.AppendInt(nil, int64(x), 10), true
	case int16:
		return strconv.AppendInt(nil, int64(x), 10), true
	case int32:
		return strconv.AppendInt(nil, int64(x), 10), true
	case int64:
		return strconv.AppendInt(nil, x, 10), true
	case uint:
		return strconv.AppendUint(nil, uint64(x), 10), true
	case uint8:
		return strconv.AppendUint(nil, uint64(x), 10), true
	case uint16:
		return strconv.AppendUint(nil, uint64(x), 10), true
	case uint32:
		return strconv.AppendUint(nil, uint64(x), 10), true
	case uint64:
		return strconv.AppendUint(nil, x, 10), true
	case *big.Int:
		return []byte(x.String()), true
	}
	return nil, false
}

// Decode reads stored bytes the way the Python package does: decimal text
// is an int (int64, or *big.Int beyond it); otherwise the compressor is
// recognised by its magic bytes and the rest goes to the serializer (bytes
// that start like a compressed stream but do not decode as one go to the
// serializer as they are). An unreadable value is an error, never a guess.
// It does not check protection: a value stored with Options.ValueProtection
// is opened (verified) by Get for its key first; given to Decode sealed, it
// is unreadable.
func (c *Cache) Decode(stored []byte) (any, error) {
	if codec.IsDecimalInt(stored) {
		if n, err := strconv.ParseInt(string(stored), 10, 64); err == nil {
			return n, nil
		}
		n, _ := new(big.Int).SetString(string(stored), 10)
		return n, nil
	}
	data, _, err := c.codec.Decode(stored)
	if err != nil {
		// Bytes that only start like a compressed stream may still be a
		// serialized value (the Python package judges them the same way).
		if v, serr := c.opts.Serializer.Unmarshal(stored); serr == nil {
			return v, nil
		}
		return nil, err
	}
	return c.opts.Serializer.Unmarshal(data)
}

func (c *Cache) decodeAt(key string, stored []byte) (any, error) {
	v, err := c.Decode(stored)
	if err != nil {
		return nil, &ValueError{Key: key, Err: err}
	}
	return v, nil
}

// Get returns the value of key and whether it was found. A value stored
// as Python None is found with v == nil. With Options.ValueProtection, a
// value that does not verify is not found (never deserialized), or a
// *RejectedError with ProtectionErrors "raise".
func (c *Cache) Get(ctx context.Context, key string) (v any, found bool, err error) {
	k := c.MakeKey(key)
	var b cache.Buffer
	found, err = c.c.Get(ctx, k, &b)
	if err == nil && found {
		v, err = c.decodeAt(k, b.B)
	}
	if err != nil || !found {
		return nil, false, c.unlessIgnored(err)
	}
	return v, true, nil
}

// GetInto reads key into the variable dst points to (see pickle.Into for
// the conversions) and reports whether it was found; a miss leaves dst
// unchanged. A value of another type is a *pickle.MismatchError naming
// the Python type and the Go type.
func (c *Cache) GetInto(ctx context.Context, key string, dst any) (found bool, err error) {
	v, found, err := c.Get(ctx, key)
	if err != nil || !found {
		return false, err
	}
	if err := pickle.Into(v, dst); err != nil {
		return true, &ValueError{Key: c.MakeKey(key), Err: err}
	}
	return true, nil
}

// Set stores v at key. ttl 0 means Options.Timeout; Forever means no
// expiry.
func (c *Cache) Set(ctx context.Context, key string, v any, ttl time.Duration) error {
	data, err := c.serialize(v)
	if err != nil {
		return err
	}
	_, err = c.c.Set(ctx, c.MakeKey(key), data, c.ttl(ttl), false)
	return c.unlessIgnored(err)
}

// Add stores v at key only when key does not exist, and reports whether it
// did (Django's add).
func (c *Cache) Add(ctx context.Context, key string, v any, ttl time.Duration) (bool, error) {
	data, err := c.serialize(v)
	if err != nil {
		return false, err
	}
	return c.bool(c.c.Set(ctx, c.MakeKey(key), data, c.ttl(ttl), true))
}

// Delete removes key and reports whether it existed.
func (c *Cache) Delete(ctx context.Context, key string) (bool, error) {
	return c.bool(c.c.Delete(ctx, c.MakeKey(key)))
}

// Has reports whether key exists.
func (c *Cache) Has(ctx context.Context, key string) (bool, error) {
	return c.bool(c.c.Exists(ctx, c.MakeKey(key)))
}

// Touch sets a new ttl on key (0: Options.Timeout, Forever: none) and
// reports whether key exists.
func (c *Cache) Touch(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if d := c.ttl(ttl); d > 0 {
		return c.bool(c.c.Expire(ctx, c.MakeKey(key), d))
	}
	return c.bool(c.c.Persist(ctx, c.MakeKey(key)))
}

// TTL returns key's remaining time to live, Forever for a key without
// expiry, and found false for a missing key. A TTL longer than a
// time.Duration holds (about 292 years, as another client may set) is the
// longest Duration.
func (c *Cache) TTL(ctx context.Context, key string) (ttl time.Duration, found bool, err error) {
	d, found, err := c.c.TTL(ctx, c.MakeKey(key))
	if err != nil {
		return 0, false, c.unlessIgnored(err)
	}
	if d < 0 {
		return Forever, found, nil
	}
	return d.Duration(), found, nil
}

// Incr adds delta to the integer at key, keeping its ttl, and returns the
// new value; a missing key is ErrNotFound (Django's incr/decr). Its errors
// are returned even with Options.IgnoreExceptions: there is no value to
// give instead.
func (c *Cache) Incr(ctx context.Context, key string, delta int64) (int64, error) {
	n, found, err := c.c.Incr(ctx, c.MakeKey(key), delta)
	if err == nil && !found {
		err = ErrNotFound
	}
	return n, err
}

// GetMany returns the values of the keys that were found, by key, in one
// round trip per server. The first unreadable value is a *ValueError. With
// Options.ValueProtection, a value that does not verify is left out, or a
// *RejectedError with ProtectionErrors "raise".
func (c *Cache) GetMany(ctx context.Context, keys []string) (map[string]any, error) {
	made := make([]string, len(keys))
	for i, k := range keys {
		made[i] = c.MakeKey(k)
	}
	out := make(map[string]any, len(keys))
	var bad error
	err := c.c.GetMany(ctx, made, func(i int, stored []byte) {
		if bad != nil {
			return
		}
		// a Serializer may keep what it reads; stored is valid only now
		v, err := c.decodeAt(made[i], bytes.Clone(stored))
		if err != nil {
			bad = err
			return
		}
		out[keys[i]] = v
	})
	if err = cmp.Or(err, bad); err != nil {
		if c.ignored(err) {
			return map[string]any{}, nil
		}
		return nil, err
	}
	return out, nil
}

// SetMany stores every key of values with the same ttl (as Set), in one
// round trip per server.
func (c *Cache) SetMany(ctx context.Context, values map[string]any, ttl time.Duration) error {
	keys := make([]string, 0, len(values))
	data := make([][]byte, 0, len(values))
	for k, v := range values {
		b, err := c.serialize(v)
		if err != nil {
			return fmt.Errorf("djcache: key %q: %w", k, err)
		}
		keys = append(keys, c.MakeKey(k))
		data = append(data, b)
	}
	return c.unlessIgnored(c.c.SetMany(ctx, keys, data, c.ttl(ttl)))
}

// DeleteMany removes the keys and returns how many existed.
func (c *Cache) DeleteMany(ctx context.Context, keys []string) (int64, error) {
	made := make([]string, len(keys))
	for i, k := range keys {
		made[i] = c.MakeKey(k)
	}
	n, err := c.c.DeleteMany(ctx, made)
	if err != nil {
		return 0, c.unlessIgnored(err)
	}
	return n, nil
}

// ignored reports whether Options.IgnoreExceptions turns err into a miss
// or a no-op: a connection or timeout error (the circuit breaker's
// included) or a value that cannot be read, as the Python package's
// fail-open does; it hands err to Options.IgnoredErrors.
func (c *Cache) ignored(err error) bool {
	if err == nil || !c.opts.IgnoreExceptions {
		return false
	}
	var unreadable *ValueError
	if k := client.KindOf(err); k != client.KindConnection && k != client.KindTimeout && !errors.As(err, &unreadable) {
		return false
	}
	if c.opts.IgnoredErrors != nil {
		c.opts.IgnoredErrors(err)
	}
	return true
}

// unlessIgnored is err, or nil when fail-open ignores it.
func (c *Cache) unlessIgnored(err error) error {
	if c.ignored(err) {
		return nil
	}
	return err
}

// bool is a yes/no outcome under fail-open: an ignored error is a no.
func (c *Cache) bool(ok bool, err error) (bool, error) {
	if err != nil {
		return false, c.unlessIgnored(err)
	}
	return ok, nil
}
