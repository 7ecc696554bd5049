package djcache

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The benchmarks run against the server in REDIS_URL:
//
//	python tests/harness/with_redis.py -- go test -run '^$' -bench . ./core/djcache
//
// Each operation through the Go API (key making, pickling, routing) sits
// next to the same command sent with go-redis alone, with the same bytes.

func benchCache(b *testing.B) (*Cache, *redis.Client) {
	b.Helper()
	url := os.Getenv("REDIS_URL")
	if url == "" {
		b.Fatal("REDIS_URL is not set (run under tests/harness/with_redis.py)")
	}
	c, err := OpenURL(url, Options{KeyPrefix: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	ro, err := redis.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(ro)
	b.Cleanup(func() { _ = c.Close(); _ = rdb.Close() })
	return c, rdb
}

// benchValue is a typical cached row: a dict of a few fields (~90 bytes pickled).
var benchValue = map[string]any{"id": 42, "name": "Ada Lovelace", "email": "ada@example.com", "active": true, "score": 97.5}

func BenchmarkGet(b *testing.B) {
	c, _ := benchCache(b)
	ctx := context.Background()
	if err := c.Set(ctx, "row", benchValue, time.Hour); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, found, err := c.Get(ctx, "row"); err != nil || !found {
			b.Fatal(err, found)
		}
	}
}

func BenchmarkGoRedisGet(b *testing.B) {
	c, rdb := benchCache(b)
	ctx := context.Background()
	data, _ := c.Encode(benchValue)
	rdb.Set(ctx, "bench:bare:row", data, time.Hour)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := rdb.Get(ctx, "bench:bare:row").Bytes(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSet(b *testing.B) {
	c, _ := benchCache(b)
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		if err := c.Set(ctx, "row", benchValue, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGoRedisSet(b *testing.B) {
	c, rdb := benchCache(b)
	ctx := context.Background()
	data, _ := c.Encode(benchValue)
	for i := 0; i < b.N; i++ {
		if err := rdb.Set(ctx, "bench:bare:row", data, time.Hour).Err(); err != nil {
			b.Fatal(err)
		}
	}
}

const manyKeys = 100

func BenchmarkGetMany(b *testing.B) {
	c, _ := benchCache(b)
	ctx := context.Background()
	keys := make([]string, manyKeys)
	values := make(map[string]any, manyKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("row%d", i)
		values[keys[i]] = benchValue
	}
	if err := c.SetMany(ctx, values, time.Hour); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		got, err := c.GetMany(ctx, keys)
		if err != nil || len(got) != manyKeys {
			b.Fatal(err, len(got))
		}
	}
}

func BenchmarkGoRedisMGet(b *testing.B) {
	c, rdb := benchCache(b)
	ctx := context.Background()
	data, _ := c.Encode(benchValue)
	keys := make([]string, manyKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("bench:bare:row%d", i)
		rdb.Set(ctx, keys[i], data, time.Hour)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := rdb.MGet(ctx, keys...).Result(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	c, _ := benchCache(b)
	for i := 0; i < b.N; i++ {
		if _, err := c.Encode(benchValue); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	c, _ := benchCache(b)
	data, _ := c.Encode(benchValue)
	for i := 0; i < b.N; i++ {
		if _, err := c.Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
