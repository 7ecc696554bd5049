// Command goservice is a Go service sharing the demo Django site's cache
// (examples/demo) through core/djcache: it reads what the site cached and
// writes entries the site serves, finds the Redis primary through Sentinel,
// keeps hot entries in a near-cache, and reports the counters of both.
//
//	REDIS_LOCATION=127.0.0.1:6379 go run ./examples/goservice
//	REDIS_LOCATION=127.0.0.1:6379 REDIS_SENTINELS=127.0.0.1:26379 REDIS_SENTINEL_SERVICE=demo go run ./examples/goservice
//
// The demo's CACHES entry is LOCATION $REDIS_LOCATION, KEY_PREFIX "demo",
// OPTIONS {"DB": 0}; the same values go into djcache.Options below. It opens
// two caches on those entries:
//
//   - shared, for writes and counters: through the Sentinels of
//     $REDIS_SENTINELS (OPTIONS SENTINELS / SENTINEL_SERVICE), which name the
//     current primary, or straight to $REDIS_LOCATION without them;
//   - hot, for reads: Options.LocalCache (OPTIONS LOCAL_CACHE), a near-cache
//     in process memory that Redis keeps correct by pushing invalidations.
//     It needs one plain server, so it is opened on $REDIS_LOCATION.
//
// make demo (examples/run_demo.py) runs it against a throw-away redis-server
// watched by a throw-away Sentinel, between requests to the Django site. It
// prints one JSON object with what it saw and did, including Stats() and
// NearStats(), for run_demo.py to check; progress goes to stderr.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/redis-cache-go/redis-cache-go/core/djcache"
	"github.com/redis-cache-go/redis-cache-go/core/nearcache"
	"github.com/redis-cache-go/redis-cache-go/core/pickle"
	"github.com/redis-cache-go/redis-cache-go/core/stats"
)

// product is one catalogue row as the site caches it:
// {"name": ..., "cents": ..., "tags": [...]}.
type product struct {
	Name  string
	Cents int
	Tags  []string
}

// report is what the service prints: the values it read and wrote, and the
// counters of its two caches.
type report struct {
	Topology        string           `json:"topology"` // "sentinel" or "plain" (the shared cache's)
	VisitsAfterIncr int64            `json:"visits_after_incr"`
	PrimesCount     any              `json:"primes_count"`
	PrimesReads     int              `json:"primes_reads"` // reads of it through the near-cache
	Prices          map[string]int   `json:"prices"`       // cents per row, as the site cached them
	MugTTLSeconds   float64          `json:"mug_ttl_seconds"`
	HotMugCents     int              `json:"hot_mug_cents"` // the near-cache's mug after shared's write
	Stats           []stats.Snapshot `json:"stats"`         // shared.Stats(), one per server
	HotStats        []stats.Snapshot `json:"hot_stats"`     // hot.Stats()
	NearStats       nearcache.Stats  `json:"near_stats"`    // hot.NearStats()
}

// primesReads is how often the site's prime count is read through the
// near-cache: the first read fills it, the others are hits.
const primesReads = 50

func main() {
	log.SetFlags(0)
	log.SetPrefix("goservice: ")
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	location := os.Getenv("REDIS_LOCATION")
	if location == "" {
		location = "127.0.0.1:6379"
	}
	site := djcache.Options{KeyPrefix: "demo", DB: djcache.DB(0)} // the site's KEY_PREFIX and OPTIONS["DB"]

	sharedOpts := site
	rep := report{Topology: "plain", Prices: map[string]int{}}
	if s := os.Getenv("REDIS_SENTINELS"); s != "" {
		sharedOpts.Sentinels = strings.Split(s, ",")
		sharedOpts.SentinelService = os.Getenv("REDIS_SENTINEL_SERVICE")
		rep.Topology = "sentinel"
	}
	shared, err := djcache.OpenURL(location, sharedOpts)
	if err != nil {
		return err
	}
	defer shared.Close()

	hotOpts := site
	hotOpts.LocalCache = &djcache.LocalCache{MaxEntries: 1000, TTL: 30 * time.Second}
	hot, err := djcache.OpenURL(location, hotOpts)
	if err != nil {
		return err
	}
	defer hot.Close()
	log.Printf("shared cache: %s (%s); hot cache: %s with a near-cache", shared, rep.Topology, hot)

	// The site's page-view counter: a plain int, so Incr runs in Redis.
	if rep.VisitsAfterIncr, err = shared.Incr(ctx, "visits", 10); err != nil {
		return fmt.Errorf("incr visits: %w", err)
	}

	// The prime count the site computed behind get_or_set (a pickled dict),
	// read as a hot entry: nothing is kept before Redis has confirmed the
	// tracking connection, which the first read starts.
	log.Print("waiting for the near-cache's tracking connection")
	if err := waitTracking(ctx, hot, "primes:1000000"); err != nil {
		return err
	}
	for range primesReads {
		var primes map[string]any
		found, err := hot.GetInto(ctx, "primes:1000000", &primes)
		if err != nil {
			return err
		}
		if !found {
			return errors.New("primes:1000000: not in the cache (the site stores it first)")
		}
		rep.PrimesCount = primes["count"]
		rep.PrimesReads++
	}

	// The catalogue rows, in one round trip; the near-cache keeps them.
	rows, err := hot.GetMany(ctx, []string{"price:kettle", "price:mug", "price:teapot"})
	if err != nil {
		return err
	}
	for key, row := range rows {
		var p product
		if err := pickle.Into(row, &p); err != nil { // dict keys match the fields, ignoring case
			return fmt.Errorf("%s: %w", key, err)
		}
		rep.Prices[strings.TrimPrefix(key, "price:")] = p.Cents
	}

	// A price change from the Go side through the shared cache; the site's
	// /prices/ serves it from Redis, and Redis pushes the key's invalidation
	// to the hot cache, which then reads the new row too.
	mug := map[string]any{"name": "Stoneware mug", "cents": 999, "tags": []string{"tea", "coffee", "sale"}}
	if err := shared.Set(ctx, "price:mug", mug, 120*time.Second); err != nil {
		return err
	}
	ttl, _, err := shared.TTL(ctx, "price:mug")
	if err != nil {
		return err
	}
	rep.MugTTLSeconds = ttl.Round(time.Second).Seconds()
	if rep.HotMugCents, err = awaitMug(ctx, hot, 999); err != nil {
		return err
	}

	rep.Stats, rep.HotStats = shared.Stats(), hot.Stats()
	rep.NearStats, _ = hot.NearStats()
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// waitTracking reads key through c until c's near-cache has confirmed its
// tracking connection (bounded: a Redis older than 6 never confirms it).
func waitTracking(ctx context.Context, c *djcache.Cache, key string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if _, _, err := c.Get(ctx, key); err != nil {
			return err
		}
		if st, _ := c.NearStats(); st.Tracking {
			return nil
		}
		select {
		case <-ctx.Done():
			st, _ := c.NearStats()
			return fmt.Errorf("the near-cache's tracking connection was not confirmed: %s", st.LastError)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// awaitMug reads the mug row through c until it costs cents: another
// client's write reaches the near-cache as an invalidation that Redis
// pushes about one network hop after the write.
func awaitMug(ctx context.Context, c *djcache.Cache, cents int) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		var p product
		if _, err := c.GetInto(ctx, "price:mug", &p); err != nil {
			return 0, err
		}
		if p.Cents == cents {
			return p.Cents, nil
		}
		select {
		case <-ctx.Done():
			return p.Cents, fmt.Errorf("the near-cache still serves the mug at %d cents", p.Cents)
		case <-time.After(time.Millisecond):
		}
	}
}
