// Command goservice is a Go service sharing the demo Django site's cache
// (examples/demo): it opens the cache from the site's settings, reads what
// the site cached, and writes entries the site serves.
//
//	REDIS_LOCATION=127.0.0.1:6379 go run ./examples/goservice
//
// The demo's CACHES entry is LOCATION $REDIS_LOCATION, KEY_PREFIX "demo",
// OPTIONS {"DB": 0}; the same values go into djcache.Options below. The
// program prints one JSON object with what it saw and did, for
// examples/run_demo.py to check.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/djcache"
	"github.com/redis-cache-go/redis-cache-go/core/pyvalue"
)

// product is one catalogue row as the site caches it:
// {"name": ..., "cents": ..., "tags": [...]}.
type product struct {
	Name  string
	Cents int
	Tags  []string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "goservice:", err)
		os.Exit(1)
	}
}

func run() error {
	location := os.Getenv("REDIS_LOCATION")
	if location == "" {
		location = "127.0.0.1:6379"
	}
	ctx := context.Background()
	cache, err := djcache.OpenURL(location, djcache.Options{KeyPrefix: "demo", DB: djcache.DB(0)})
	if err != nil {
		return err
	}
	defer cache.Close()
	report := map[string]any{}

	// The site's page-view counter: a plain int, so Incr runs in Redis.
	visits, err := cache.Incr(ctx, "visits", 10)
	if err != nil {
		return fmt.Errorf("incr visits: %w", err)
	}
	report["visits_after_incr"] = visits

	// The prime count the site computed behind get_or_set (a pickled dict).
	var primes map[string]any
	if _, err := cache.GetInto(ctx, "primes:1000000", &primes); err != nil {
		return err
	}
	report["primes_count"] = primes["count"]

	// The catalogue rows, in one round trip.
	rows, err := cache.GetMany(ctx, []string{"price:kettle", "price:mug", "price:teapot"})
	if err != nil {
		return err
	}
	for key, row := range rows {
		var p product
		if err := pyvalue.Into(row, &p); err != nil { // dict keys match the fields, ignoring case
			return fmt.Errorf("%s: %w", key, err)
		}
		report[key] = p.Cents
	}

	// A price change from the Go side: the site's /prices/ serves it from
	// the cache.
	mug := map[string]any{"name": "Stoneware mug", "cents": 999, "tags": []string{"tea", "coffee", "sale"}}
	if err := cache.Set(ctx, "price:mug", mug, 120*time.Second); err != nil {
		return err
	}
	ttl, _, err := cache.TTL(ctx, "price:mug")
	if err != nil {
		return err
	}
	report["mug_ttl_seconds"] = ttl.Round(time.Second).Seconds()
	return json.NewEncoder(os.Stdout).Encode(report)
}
