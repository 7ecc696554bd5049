package djcache_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/codec"
	"github.com/redis-cache-go/redis-cache-go/core/djcache"
	"github.com/redis-cache-go/redis-cache-go/core/pickle"
)

// A Go service opens the cache from the Django site's LOCATION (here the
// server in REDIS_URL, which make test sets) and KEY_PREFIX, and shares
// entries with it both ways.
func Example() {
	ctx := context.Background()
	c, err := djcache.OpenURL(os.Getenv("REDIS_URL"), djcache.Options{KeyPrefix: "shop", Compressor: codec.Zlib})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// Django: cache.set("greeting", {"text": "hello", "tags": ["a", "b"]})
	// would store the same pickle at "shop:1:greeting".
	if err := c.Set(ctx, "greeting", map[string]any{"text": "hello", "tags": []string{"a", "b"}}, time.Minute); err != nil {
		log.Fatal(err)
	}
	v, found, err := c.Get(ctx, "greeting")
	if err != nil {
		log.Fatal(err)
	}
	d := v.(pickle.Dict) // a Python dict
	text, _ := d.Get("text")
	fmt.Println(found, c.MakeKey("greeting"), text)
	// Output: true shop:1:greeting hello
}

// GetInto decodes into a typed Go variable and names both types when the
// cached value does not fit.
func ExampleCache_GetInto() {
	ctx := context.Background()
	c, err := djcache.OpenURL(os.Getenv("REDIS_URL"), djcache.Options{KeyPrefix: "ex-into"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	when := time.Date(2024, 2, 29, 13, 45, 30, 0, time.UTC) // an aware datetime in Python
	_ = c.Set(ctx, "report", map[string]any{"total": pickle.Decimal("12.50"), "at": when}, djcache.Forever)

	var report map[string]any
	if _, err := c.GetInto(ctx, "report", &report); err != nil {
		log.Fatal(err)
	}
	fmt.Println(report["total"], report["at"].(time.Time).Format(time.RFC3339))

	var count int
	_, err = c.GetInto(ctx, "report", &count)
	var mismatch *pickle.MismatchError
	fmt.Println(errors.As(err, &mismatch), mismatch.PythonType, mismatch.GoType)
	// Output:
	// 12.50 2024-02-29T13:45:30Z
	// true dict int
}

// Counters are stored as plain decimal text, as Django stores ints, so
// Incr runs on the server and both languages see the same number.
func ExampleCache_Incr() {
	ctx := context.Background()
	c, err := djcache.OpenURL(os.Getenv("REDIS_URL"), djcache.Options{KeyPrefix: "ex-incr", Version: 3})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	_ = c.Set(ctx, "visits", 41, time.Minute)
	n, err := c.Incr(ctx, "visits", 1)
	raw, _, _ := c.Shards().Get(ctx, "ex-incr:3:visits")
	fmt.Println(n, err, string(raw))

	_, err = c.Incr(ctx, "missing", 1)
	fmt.Println(err == djcache.ErrNotFound)
	// Output:
	// 42 <nil> 42
	// true
}

// GetOrSet calls the Go function only on a miss.
func ExampleCache_GetOrSet() {
	ctx := context.Background()
	c, err := djcache.OpenURL(os.Getenv("REDIS_URL"), djcache.Options{KeyPrefix: "ex-getorset"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Delete(ctx, "price")

	calls := 0
	compute := func(ctx context.Context) (any, error) {
		calls++
		return pickle.Decimal("9.99"), nil
	}
	for i := 0; i < 3; i++ {
		v, err := c.GetOrSet(ctx, "price", time.Minute, compute)
		fmt.Println(v, err)
	}
	fmt.Println("computed", calls, "time")
	// Output:
	// 9.99 <nil>
	// 9.99 <nil>
	// 9.99 <nil>
	// computed 1 time
}

// Several servers: a key lives where django-redis-cache's ring puts it,
// computed from the LOCATION entries alone (no server is contacted).
func ExampleShardOptions() {
	opts := djcache.Options{Location: djcache.SplitLocation("127.0.0.1:6381,127.0.0.1:6382,127.0.0.1:6383"), DB: djcache.DB(15)}
	so, err := djcache.ShardOptions(opts)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(so.Names[0])
	c, _ := djcache.Open(opts)
	defer c.Close()
	fmt.Println(c.MakeKey("user:42"), "on server", c.Locate("user:42"))
	// Output:
	// ('127.0.0.1', 6381, 15, None)
	// :1:user:42 on server 1
}
