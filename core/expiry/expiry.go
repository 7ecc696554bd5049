// Package expiry is a Redis key's time to live as Redis counts it: whole
// milliseconds in an int64. A time.Duration (int64 nanoseconds) cannot hold
// a TTL past about 292 years and wraps silently beyond; a TTL can hold every
// TTL Redis stores, up to MaxMS.
package expiry

import (
	"fmt"
	"math"
	"time"
)

// MaxMS is the largest TTL, in milliseconds, that is stored: about
// 292,266,000 years. Redis refuses an expiry later than 2^63-1 ms after
// 1970 (SET PX and PEXPIRE add the TTL to the server's clock); MaxMS stays
// 372,036,854,775,807 ms (about 11,800 years) below that, a margin for the
// server's clock, so every TTL up to MaxMS is stored exactly.
const MaxMS = 9_223_000_000_000_000_000

// TTL is a time to live in whole milliseconds; 0 or less means none (the key
// does not expire).
type TTL int64

// Of returns d in whole milliseconds, at least 1 for a positive d (Redis'
// smallest TTL); 0 for d <= 0.
func Of(d time.Duration) TTL {
	if d <= 0 {
		return 0
	}
	return TTL(max(1, d/time.Millisecond))
}

// Check returns an error when t is larger than MaxMS (Redis would refuse it,
// or store another expiry); nil otherwise.
func (t TTL) Check() error {
	if t > MaxMS {
		return fmt.Errorf("a time to live of %d ms is larger than the largest one Redis stores (%d ms, about 292 million years)", int64(t), int64(MaxMS))
	}
	return nil
}

// Duration returns t as a time.Duration, saturating at the largest one
// (about 292 years) instead of wrapping: for waits and local lifetimes that
// t bounds, never for what is sent to Redis.
func (t TTL) Duration() time.Duration {
	if t > math.MaxInt64/TTL(time.Millisecond) {
		return math.MaxInt64
	}
	return time.Duration(t) * time.Millisecond
}
