package djcache

import (
	"context"
	"math"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// rawInt runs a command with an integer reply on a connection of its own
// (go-redis' PTTL and PExpire helpers use a time.Duration, which wraps).
func rawInt(t *testing.T, args ...any) int64 {
	t.Helper()
	opt, err := redis.ParseURL(os.Getenv("REDIS_URL"))
	if err != nil {
		t.Fatal(err)
	}
	r := redis.NewClient(opt)
	defer r.Close()
	n, err := r.Do(context.Background(), args...).Int64()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

const year = 365 * 24 * time.Hour

// TTLs near and past what a time.Duration holds (about 292 years) are
// stored as asked, in milliseconds, and never wrap.
func TestLongTTLsAreStoredAsAsked(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, Options{KeyPrefix: "ttl", StaleTimeout: 200 * year})
	const longest = time.Duration(math.MaxInt64)
	tests := []struct {
		name   string
		run    func() error
		key    string
		wantMS int64
	}{
		{"Set with the longest Duration", func() error { return c.Set(ctx, "a", "v", longest) }, "ttl:1:a", int64(longest / time.Millisecond)},
		{"Touch with the longest Duration", func() error {
			if err := c.Set(ctx, "b", "v", time.Minute); err != nil {
				return err
			}
			_, err := c.Touch(ctx, "b", longest)
			return err
		}, "ttl:1:b", int64(longest / time.Millisecond)},
		{"SetMany with 200 years", func() error { return c.SetMany(ctx, map[string]any{"c": 1}, 200*year) }, "ttl:1:c", int64(200 * year / time.Millisecond)},
		{"GetOrSet: 200 years plus a 200-year stale window", func() error {
			_, err := c.GetOrSet(ctx, "d", 200*year, func(context.Context) (any, error) { return "v", nil })
			return err
		}, "ttl:1:d", 2 * int64(200*year/time.Millisecond)},
		{"GetOrSet's fresh flag", func() error { return nil }, "__fresh__ttl:1:d", int64(200 * year / time.Millisecond)},
		{"Lock with the longest Duration", func() error {
			_, err := c.Lock("lock-e", longest).Acquire(ctx, false, 0)
			return err
		}, "lock-e", int64(longest / time.Millisecond)},
	}
	for _, tt := range tests {
		if err := tt.run(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := rawInt(t, "pttl", tt.key); got < tt.wantMS-1000 || got > tt.wantMS {
			t.Errorf("%s: got PTTL %d ms; want %d ms (within 1 s)", tt.name, got, tt.wantMS)
		}
	}
}

// A TTL longer than a time.Duration holds (set by another client) reads
// as the longest Duration, never as a wrapped one.
func TestTTLPastADurationReadsAsTheLongest(t *testing.T) {
	ctx := context.Background()
	c := openTest(t, Options{KeyPrefix: "ttl"})
	if err := c.Set(ctx, "f", "v", time.Minute); err != nil {
		t.Fatal(err)
	}
	rawInt(t, "pexpire", "ttl:1:f", int64(1e15)) // 10**12 seconds
	got, found, err := c.TTL(ctx, "f")
	if err != nil || !found || got != math.MaxInt64 {
		t.Errorf("TTL: got %v found=%v err=%v; want %v", got, found, err, time.Duration(math.MaxInt64))
	}
}
